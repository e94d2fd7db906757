//! METRC Retail ID: the unit-level QR code `https://1a4.com/<code>`, as implemented by
//! github.com/nicklicata/metrc-rid-sdk (`src/retailid/retailid-core.ts`).
//!
//! The code is the 12-byte package id followed by the unit index as an unsigned LEB128 varint.
//! An upper-case URL (`HTTPS://1A4.COM/...`, QR alphanumeric mode) carries it in base 36 (leading
//! zero bytes as leading `0`s); a lower-case one in URL-safe base64 without padding.
//! Example from that SDK: id `1a4060300020081000006609`, unit 1 <-> `HTTPS://1A4.COM/5LN8CBN1UB33DON9CHKX`.

const HOST: &str = "1A4.COM";
const ID_BYTES: usize = 12;
const BASE36: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A decoded Retail ID: the package tag (24 upper-case hex digits) and the unit index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetailId {
    pub tag: String,
    pub unit: u64,
}

/// How the URL carried its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base36,
    Base64,
}

/// Whether `text` is addressed to the Retail ID host (any case), so it must decode or be malformed.
pub fn is_retail_id_url(text: &str) -> bool {
    split_url(text).is_some()
}

fn split_url(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let (host, code) = rest.split_once('/')?;
    host.eq_ignore_ascii_case(HOST).then_some((scheme, code))
}

/// Decode a Retail ID URL; `Err` says in plain words why a 1a4.com URL is not a valid one.
pub fn decode_url(text: &str) -> Result<RetailId, String> {
    let (scheme, code) = split_url(text).ok_or("not a Retail ID URL (https://1a4.com/...)")?;
    let code = code.strip_suffix('/').unwrap_or(code);
    if code.is_empty() {
        return Err("Retail ID URL has no code after the host".into());
    }
    let encoding = if scheme == scheme.to_ascii_uppercase() {
        Encoding::Base36
    } else if scheme == scheme.to_ascii_lowercase() {
        Encoding::Base64
    } else {
        return Err("Retail ID URL in mixed case: cannot tell base-36 from base-64".into());
    };
    let bytes = match encoding {
        Encoding::Base36 => base36_decode(code)?,
        Encoding::Base64 => base64url_decode(code)?,
    };
    split_payload(&bytes)
}

fn split_payload(bytes: &[u8]) -> Result<RetailId, String> {
    if bytes.len() <= ID_BYTES {
        return Err(format!(
            "Retail ID code too short: {} bytes, need the 12-byte package id and a unit index",
            bytes.len()
        ));
    }
    let (id, rest) = bytes.split_at(ID_BYTES);
    let unit = leb128_decode(rest)?;
    let tag = id.iter().map(|b| format!("{b:02X}")).collect();
    Ok(RetailId { tag, unit })
}

fn leb128_decode(bytes: &[u8]) -> Result<u64, String> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let shift = 7 * i as u32;
        let part = u64::from(b & 0x7f);
        if shift >= 64 || (shift > 0 && part >> (64 - shift) != 0) {
            return Err("Retail ID unit index does not fit 64 bits".into());
        }
        value |= part << shift;
        if b & 0x80 == 0 {
            if i + 1 != bytes.len() {
                return Err("Retail ID code has bytes after the unit index".into());
            }
            return Ok(value);
        }
    }
    Err("Retail ID unit index is cut short".into())
}

fn leb128_encode(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn base36_decode(code: &str) -> Result<Vec<u8>, String> {
    let zeros = code.bytes().take_while(|&c| c == b'0').count();
    let mut little: Vec<u8> = Vec::new(); // base-256 digits, least significant first
    for c in code.bytes().skip(zeros) {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            b'a'..=b'z' => c - b'a' + 10,
            _ => {
                return Err(format!(
                    "Retail ID code has '{}', not a base-36 digit",
                    c as char
                ))
            }
        };
        let mut carry = u32::from(digit);
        for byte in &mut little {
            carry += u32::from(*byte) * 36;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            little.push((carry & 0xff) as u8);
            carry >>= 8;
        }
        if little.len() > 64 {
            return Err("Retail ID code is too long".into());
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(little.iter().rev());
    Ok(out)
}

fn base36_encode(bytes: &[u8]) -> String {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    let mut little: Vec<u8> = Vec::new(); // base-36 digits, least significant first
    for &b in &bytes[zeros..] {
        let mut carry = u32::from(b);
        for digit in &mut little {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 36) as u8;
            carry /= 36;
        }
        while carry > 0 {
            little.push((carry % 36) as u8);
            carry /= 36;
        }
    }
    let mut out = "0".repeat(zeros);
    out.extend(little.iter().rev().map(|&d| BASE36[d as usize] as char));
    out
}

fn base64url_decode(code: &str) -> Result<Vec<u8>, String> {
    let code = code.trim_end_matches('=');
    let mut out = Vec::with_capacity(code.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in code.bytes() {
        let v = BASE64URL.iter().position(|&x| x == c).ok_or_else(|| {
            format!(
                "Retail ID code has '{}', not a URL-safe base-64 digit",
                c as char
            )
        })?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err("Retail ID code has a stray base-64 digit".into());
    }
    Ok(out)
}

fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The Retail ID URL of unit `unit` of package `tag` (24 hex digits), as METRC prints it.
pub fn encode_url(tag: &str, unit: u64, encoding: Encoding) -> Result<String, String> {
    if tag.len() != 2 * ID_BYTES || !tag.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "a Retail ID needs a 24-hex-digit package id, got {tag:?}"
        ));
    }
    let mut bytes: Vec<u8> = (0..ID_BYTES)
        .map(|i| u8::from_str_radix(&tag[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    leb128_encode(unit, &mut bytes);
    Ok(match encoding {
        Encoding::Base36 => format!("HTTPS://{HOST}/{}", base36_encode(&bytes)),
        Encoding::Base64 => format!("https://1a4.com/{}", base64url_encode(&bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_published_example() {
        let id = decode_url("HTTPS://1A4.COM/5LN8CBN1UB33DON9CHKX").unwrap();
        assert_eq!(id.tag, "1A4060300020081000006609");
        assert_eq!(id.unit, 1);
    }

    #[test]
    fn round_trips_both_encodings() {
        for unit in [0, 1, 127, 128, 300, 1 << 40, u64::MAX] {
            for enc in [Encoding::Base36, Encoding::Base64] {
                let url = encode_url("1A4060300020081000006609", unit, enc).unwrap();
                let back = decode_url(&url).unwrap();
                assert_eq!(
                    (back.tag.as_str(), back.unit),
                    ("1A4060300020081000006609", unit)
                );
            }
        }
    }

    #[test]
    fn leading_zero_bytes_survive_base36() {
        let url = encode_url(
            "0000AB0300020081000006609"[..24].as_ref(),
            5,
            Encoding::Base36,
        );
        let back = decode_url(&url.unwrap()).unwrap();
        assert_eq!(back.tag, "0000AB030002008100000660");
    }

    #[test]
    fn rejects_broken_codes() {
        assert!(decode_url("HTTPS://1A4.COM/5LN8")
            .unwrap_err()
            .contains("too short"));
        assert!(decode_url("HTTPS://1A4.COM/5LN8*")
            .unwrap_err()
            .contains("base-36"));
        assert!(decode_url("Https://1a4.com/abc")
            .unwrap_err()
            .contains("mixed case"));
        assert!(decode_url("HTTPS://1A4.COM/")
            .unwrap_err()
            .contains("no code"));
    }
}
