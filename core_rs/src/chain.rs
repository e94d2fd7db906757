//! The journal's hash chain, byte for byte as `edge/common/chain.py` computes it:
//!
//! h(n) = SHA-256( h(n-1) || seq as u64 big-endian || event_id (16 bytes) || type || 0x00 || at ||
//! 0x00 || body ), with h(0) = 32 zero bytes.
//!
//! Central re-verifies every event it receives with [`chain_hash`] (a batch at a time, with the
//! GIL released: `py/chain.rs`); a station that appends to its journal in Rust can hash its rows
//! with the same function. `body` is already the canonical JSON bytes here: this module hashes,
//! it does not serialise.

use sha2::{Digest, Sha256};

/// h(0): the `prev_hash` of a journal's first row.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of one journal row given the previous row's hash (`edge.common.chain.chain_hash`).
pub fn chain_hash(
    prev_hash: &[u8],
    seq: u64,
    event_id: &[u8; 16],
    type_: &str,
    at: &str,
    body: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(seq.to_be_bytes());
    h.update(event_id);
    h.update(type_.as_bytes());
    h.update([0]);
    h.update(at.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().into()
}

/// The 16 bytes of a UUID written in one of its two plain forms: 8-4-4-4-12 hex digits with
/// hyphens, or 32 hex digits, either case (RFC 9562 section 4). None for anything else: Python's
/// `uuid.UUID` also takes braces, a `urn:uuid:` prefix, hyphens anywhere and what `int(x, 16)`
/// takes, so a caller that must agree with it hands those to Python.
pub fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    let hyphenated = b.len() == 36;
    if hyphenated {
        if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
    } else if b.len() != 32 {
        return None;
    }
    let mut digits = b
        .iter()
        .enumerate()
        .filter_map(|(i, &c)| (!hyphenated || ![8, 13, 18, 23].contains(&i)).then_some(c));
    let mut out = [0u8; 16];
    for byte in &mut out {
        let hi = hex_value(digits.next()?)?;
        let lo = hex_value(digits.next()?)?;
        *byte = hi << 4 | lo;
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// One event as central receives it (`edge.common.protocol.Event`), borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Link<'a> {
    pub seq: u64,
    pub event_id: &'a str,
    pub type_: &'a str,
    pub at: &'a str,
    pub body: &'a [u8],
    pub prev_hash: &'a [u8],
}

impl Link<'_> {
    /// The row's hash recomputed from its own fields (its `prev_hash` included), or None when
    /// its event_id is not in a plain UUID form ([`uuid_bytes`]).
    pub fn recompute(&self) -> Option<[u8; 32]> {
        let id = uuid_bytes(self.event_id)?;
        Some(chain_hash(
            self.prev_hash,
            self.seq,
            &id,
            self.type_,
            self.at,
            self.body,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_forms() {
        let want = [
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
            0xde, 0xf0,
        ];
        assert_eq!(
            uuid_bytes("12345678-9abc-def0-1234-56789abcdef0"),
            Some(want)
        );
        assert_eq!(
            uuid_bytes("12345678-9ABC-DEF0-1234-56789ABCDEF0"),
            Some(want)
        );
        assert_eq!(uuid_bytes("123456789abcdef0123456789abcdef0"), Some(want));
        for bad in [
            "",
            "{12345678-9abc-def0-1234-56789abcdef0}",
            "urn:uuid:12345678-9abc-def0-1234-56789abcdef0",
            "12345678-9abc-def0-1234-56789abcdef",
            "1234567-89abc-def0-1234-56789abcdef0",
            "12345678-9abc-def0-1234-56789abcdefg",
            "12345678-9abc-def0-1234_56789abcdef0",
            "123456789abcdef0123456789abcdef ",
            "123456789abcdef0123456789abcdéf",
        ] {
            assert_eq!(uuid_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn genesis_row() {
        // edge.common.chain.chain_hash(bytes(32), 1, "00000000-0000-0000-0000-000000000001",
        // "scan", "2026-11-22T12:00:00+00:00", b'{"a":1}').hex()
        let id = uuid_bytes("00000000-0000-0000-0000-000000000001").unwrap();
        let got = chain_hash(
            &GENESIS,
            1,
            &id,
            "scan",
            "2026-11-22T12:00:00+00:00",
            br#"{"a":1}"#,
        );
        let hex: String = got.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "7e4eea974186e8aad30f6be0895ffa72acac8f6f47eb98fe8654bff8587ba252"
        );
    }

    #[test]
    fn a_link_hashes_its_own_prev_hash() {
        let body = br#"{"a":1}"#;
        let first = Link {
            seq: 1,
            event_id: "00000000-0000-0000-0000-000000000001",
            type_: "scan",
            at: "t",
            body,
            prev_hash: &GENESIS,
        };
        let h1 = first.recompute().unwrap();
        let second = Link {
            seq: 2,
            prev_hash: &h1,
            ..first
        };
        let odd = Link {
            event_id: "{00000000-0000-0000-0000-000000000001}",
            ..first
        };
        let got: Vec<_> = [first, second, odd].iter().map(Link::recompute).collect();
        assert_eq!(got[0], Some(h1));
        assert_ne!(got[1], Some(h1));
        assert_eq!(got[2], None);
    }
}
