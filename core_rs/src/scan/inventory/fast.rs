//! The common case of one package object, parsed by a plain byte scanner instead of serde's
//! visitors (a replica build parses a million of them).
//!
//! It takes only what it can judge exactly as `json` does: strings without escapes or control
//! characters, numbers by the JSON grammar, `true`/`false`/`null`, nested objects and arrays in
//! fields it skips. Anything else (an escape, a value of an unexpected type, any error) makes it
//! give up and leave `parts` as it found them (interned strings aside, which nothing refers
//! to), so the caller parses the object with serde: the same result, or serde's error with its
//! line and column.

use super::json::{commit, push_label, Draft, Key};
use super::parts::{Interner, Parts, NONE, NO_MEASURE};
use crate::civil_date;

/// Deepest nesting skipped here (serde_json's own limit is 128).
const MAX_DEPTH: usize = 64;

/// Parse `slice` as one package into `parts`; false (nothing added) when serde must judge it.
pub(super) fn package(parts: &mut Parts, slice: &[u8]) -> bool {
    // UTF-8 checked once for the whole object (most of it ASCII, checked a word at a time),
    // not string by string: its strings are then slices of it, cut at ASCII delimiters.
    let Ok(text) = std::str::from_utf8(slice) else {
        return false;
    };
    let labels_len = parts.labels.len();
    let mut p = Scan {
        s: text,
        b: slice,
        i: 0,
    };
    let done = p.package(parts).is_some();
    if !done {
        parts.labels.truncate(labels_len);
    }
    done
}

struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

/// Each interned field's slot for `Interner::intern_as`.
mod slot {
    pub const NAME: usize = 0;
    pub const SKU: usize = 1;
    pub const BATCH: usize = 2;
    pub const LOCATION: usize = 3;
    pub const CATEGORY: usize = 4;
    pub const PRODUCT_CATEGORY: usize = 5;
    pub const PACKAGE_TYPE: usize = 6;
    pub const UNIT_OF_MEASURE: usize = 7;
    pub const LAB_STATE: usize = 8;
    pub const QUANTITY: usize = 9;
    pub const UNIT_THC_CONTENT: usize = 10;
}

impl<'a> Scan<'a> {
    fn package(&mut self, parts: &mut Parts) -> Option<()> {
        let mut d = Draft {
            measures: [NO_MEASURE; 5],
            ..Draft::default()
        };
        self.ws();
        self.eat(b'{')?;
        self.ws();
        if !self.try_eat(b'}') {
            loop {
                let key = Key::of(self.key()?);
                self.field(key, parts, &mut d)?;
                if self.next_member()? {
                    break;
                }
            }
        }
        self.ws();
        if self.i != self.b.len() {
            return None;
        }
        commit(parts, d).ok()
    }

    /// After a member's value: true at the object's end, false before the next member.
    fn next_member(&mut self) -> Option<bool> {
        self.ws();
        match self.byte()? {
            b'}' => Some(true),
            b',' => {
                self.ws();
                Some(false)
            }
            _ => None,
        }
    }

    /// A member's key and its ':'.
    fn key(&mut self) -> Option<&'a str> {
        let k = self.string()?;
        self.ws();
        self.eat(b':')?;
        self.ws();
        Some(k)
    }

    fn field(&mut self, key: Key, parts: &mut Parts, d: &mut Draft) -> Option<()> {
        let s = &mut parts.strings;
        match key {
            Key::Label => {
                d.label = match self.string_or_null()? {
                    Some(v) => Some(push_label(&mut parts.labels, v).ok()?),
                    None => None,
                }
            }
            Key::Item => self.item(s, d)?,
            Key::Sku => d.sku = self.interned(s, slot::SKU)?,
            Key::Batch => d.batch = self.interned(s, slot::BATCH)?,
            Key::Location => d.location = self.interned(s, slot::LOCATION)?,
            Key::Category => d.category = self.interned(s, slot::CATEGORY)?,
            Key::PackageType => d.package_type = self.interned(s, slot::PACKAGE_TYPE)?,
            Key::UnitOfMeasureName => {
                d.unit_of_measure = self.interned(s, slot::UNIT_OF_MEASURE)?
            }
            Key::LabTestingState => d.lab_state = self.interned(s, slot::LAB_STATE)?,
            Key::Quantity => d.quantity = Some(self.decimal(s, slot::QUANTITY)?),
            Key::PackagedDate => d.packaged = self.date()?,
            Key::ExpirationDate => d.expires = self.date()?,
            Key::IsOnHold => d.on_hold = self.bool_or_null()?,
            Key::IsFinished => d.finished = self.bool_or_null()?,
            Key::Measure(i) => d.measures[i] = self.measure()?,
            _ => self.skip(0)?,
        }
        Some(())
    }

    /// `Item`: an object whose Name, ProductCategoryName and UnitThcContent are read.
    fn item(&mut self, s: &mut Interner, d: &mut Draft) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.try_eat(b'}') {
            return Some(());
        }
        loop {
            match Key::of(self.key()?) {
                Key::Name => d.name = self.interned(s, slot::NAME)?,
                Key::ProductCategoryName => {
                    d.product_category = self.interned(s, slot::PRODUCT_CATEGORY)?
                }
                Key::UnitThcContent => {
                    d.unit_thc_content = Some(self.decimal(s, slot::UNIT_THC_CONTENT)?)
                }
                _ => self.skip(1)?,
            }
            if self.next_member()? {
                return Some(());
            }
        }
    }

    fn interned(&mut self, s: &mut Interner, slot: usize) -> Option<Option<u32>> {
        Some(self.string_or_null()?.map(|v| s.intern_as(slot, v)))
    }

    /// A METRC decimal kept as its JSON text (NONE for null).
    fn decimal(&mut self, s: &mut Interner, slot: usize) -> Option<u32> {
        if self.null() {
            return Some(NONE);
        }
        Some(s.intern_as(slot, self.number()?))
    }

    fn measure(&mut self) -> Option<u64> {
        if self.null() {
            return Some(NO_MEASURE);
        }
        self.number()?
            .parse::<u64>()
            .ok()
            .filter(|&v| v != NO_MEASURE)
    }

    fn date(&mut self) -> Option<Option<i32>> {
        match self.string_or_null()? {
            Some(v) => Some(Some(civil_date::parse(v)?)),
            None => Some(None),
        }
    }

    fn bool_or_null(&mut self) -> Option<Option<bool>> {
        if self.null() {
            Some(None)
        } else if self.literal(b"true") {
            Some(Some(true))
        } else if self.literal(b"false") {
            Some(Some(false))
        } else {
            None
        }
    }

    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + first_special(self.b.get(start..)?)?;
        if self.b[end] != b'"' {
            return None; // an escape or a control character: serde's to judge
        }
        self.i = end + 1;
        self.s.get(start..end)
    }

    /// A number token by the JSON grammar, as its text.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.try_eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.try_eat(b'.') {
            self.digits1()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.digits1()?;
        }
        self.s.get(start..self.i)
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
    }

    fn digits1(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    /// Skip any value (checked as serde would, or given up).
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => {
                self.i += 1;
                self.ws();
                if self.try_eat(b'}') {
                    return Some(());
                }
                loop {
                    self.key()?;
                    self.skip(depth + 1)?;
                    if self.next_member()? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.try_eat(b']') {
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.byte()? {
                        b']' => return Some(()),
                        b',' => self.ws(),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.null().then_some(()),
            _ => self.number().map(|_| ()),
        }
    }

    fn null(&mut self) -> bool {
        self.literal(b"null")
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(word);
        if hit {
            self.i += word.len();
        }
        hit
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.byte()? == c).then_some(())
    }

    fn try_eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }
}

/// The offset of the first '"', '\\' or control character (< 0x20) in `b`, eight bytes at a
/// time: the strings of a package are short, too short for a SIMD search to pay off.
fn first_special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `v` below `n`; exact for the lowest such byte (a borrow
    // only reaches the bytes above it), which is the one wanted.
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(word);
        let hit = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::super::json::parse_slice;
    use super::*;

    /// Every field of every record, with the interned strings resolved.
    fn fields(parts: &Parts) -> Vec<String> {
        let s = |id: u32| parts.strings.name(id).unwrap_or("-").to_string();
        parts
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let a = parts.label_starts[i] as usize;
                let b = parts.label_starts[i + 1] as usize;
                format!(
                    "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {:?}",
                    String::from_utf8_lossy(&parts.labels[a..b]),
                    s(r.name),
                    s(r.sku),
                    s(r.batch),
                    s(r.location),
                    s(r.category),
                    s(r.product_category),
                    s(r.package_type),
                    s(r.unit_of_measure),
                    s(r.lab_state),
                    s(r.quantity),
                    s(r.unit_thc_content),
                    r.packaged,
                    r.expires,
                    r.on_hold,
                    r.finished,
                    r.measures
                )
            })
            .collect()
    }

    const CASES: &[&str] = &[
        r#"{"Label":"1a4000000000000000000001","Item":{"Name":"N","ProductCategoryName":"Flower","UnitThcContent":24.5},"Sku":"S","Batch":"B","Quantity":1,"NetWeightMg":3500,"PackagedDate":"2026-01-02","ExpirationDate":"2027-01-02T00:00:00","IsOnHold":false,"IsFinished":null,"LabTestingState":"TestPassed","Location":"v/1","Category":"c","PackageType":"P","UnitOfMeasureName":"Each"}"#,
        " { \"Label\" : \" 1A4000000000000000000002 \" ,\n\t\"Item\" : { \"Name\" : \"Café\" , \"Extra\" : [1, {\"a\": [true, false, null, -0.5e+3]}, \"x\"] } , \"Sku\" : \"S\" , \"Batch\" : \"B\" , \"Location\" : null , \"Other\" : {} } ",
        r#"{"Label":"1A4000000000000000000003","Item":{"Name":"N"},"Sku":"S","Batch":"B","Note":"a \"quoted\" word"}"#,
        r#"{"Label":"1A4000000000000000000004","Item":{"Name":"N"},"Sku":"S","Batch":"B","Quantity":"1"}"#,
        r#"{"Label":"1A4000000000000000000005","Item":{"Name":"N"},"Sku":"S","Batch":"B","ThcMg":1.5}"#,
        r#"{"Label":"1A4000000000000000000006","Item":{"Name":"N"},"Sku":"S","Batch":"B","PackagedDate":"2026-02-30"}"#,
        r#"{"Label":"1A4000000000000000000007","Item":{"Name":"N"},"Sku":"S"}"#,
        r#"{"Label":"1A4000000000000000000008","Label":"1A4000000000000000000009","Item":{"Name":"N"},"Sku":"S","Batch":"B"}"#,
        r#"{"Label":"1A400000000000000000000A","Item":{"Name":"N"},"Sku":"S","Batch":"B",}"#,
        r#"{"Label":"1A400000000000000000000B","Item":{"Name":"N"},"Sku":"S","Batch":"B","Quantity":01}"#,
        r#"{"Label":"1A400000000000000000000C","Item":null,"Sku":"S","Batch":"B"}"#,
        r#"{"Label":"1A400000000000000000000D","Item":{"Name":"N"},"Sku":"S","Batch":"B","IsOnHold":true,"CbdMg":0,"VolumeMl":null,"ConcentrateMg":12} x"#,
        r#"{"Label":"1A400000000000000000000E","Item":{"Name":"N"},"Sku":"S","Batch":"B","IsFinished":true,"ThcMg":18446744073709551615}"#,
        r#"{"Label":null,"Item":{"Name":"N"},"Sku":"S","Batch":"B"}"#,
    ];

    #[test]
    fn agrees_with_serde_on_every_case() {
        for case in CASES {
            // The fast path, then serde on what it gave up (as `parse_package` does) ...
            let mut parts = Parts::default();
            parts.label_starts.push(0);
            let got = super::super::json::parse_package(&mut parts, case.as_bytes(), 1, 1);
            // ... against serde alone, on the same object inside an array.
            let doc = format!("[{case}]");
            let want = parse_slice(doc.as_bytes());
            match (got, want) {
                (Ok(()), Ok(w)) => assert_eq!(fields(&parts), fields(&w), "{case}"),
                (Err(_), Err(_)) => assert!(!package(&mut Parts::default(), case.as_bytes())),
                (g, w) => panic!("{case}: {g:?} vs {:?}", w.map(|w| fields(&w))),
            }
        }
    }

    #[test]
    fn finds_the_first_quote_escape_or_control_character_like_a_byte_scan() {
        let specials = [b'"', b'\\', 0x00, 0x1f, b'\n'];
        let fillers = [b'a', b' ', 0x7f, 0x80, 0xc3, 0xff, 0x20, 0x21, 0x5b, 0x5d];
        for len in 0..40 {
            for (n, &filler) in fillers.iter().enumerate() {
                let mut text = vec![filler; len];
                let byte_scan =
                    |t: &[u8]| t.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
                assert_eq!(first_special(&text), byte_scan(&text));
                for (m, &special) in specials.iter().enumerate() {
                    let at = (n * 7 + m * 3) % len.max(1);
                    if len == 0 {
                        continue;
                    }
                    text[at] = special;
                    // a second special byte after the first must not hide it
                    if at + 1 < len {
                        text[at + 1] = specials[(m + 1) % specials.len()];
                    }
                    assert_eq!(first_special(&text), Some(at), "{text:?}");
                    assert_eq!(first_special(&text), byte_scan(&text));
                    text.fill(filler);
                }
            }
        }
    }

    #[test]
    fn takes_the_common_case_and_leaves_the_rest_to_serde() {
        let mut parts = Parts::default();
        parts.label_starts.push(0);
        assert!(package(&mut parts, CASES[0].as_bytes()));
        assert!(package(&mut parts, CASES[1].as_bytes()));
        for case in [CASES[2], CASES[3], CASES[7], CASES[10]] {
            let before = parts.labels.len();
            assert!(!package(&mut parts, case.as_bytes()), "{case}");
            assert_eq!(parts.labels.len(), before);
        }
        assert_eq!(parts.records.len(), 2);
    }
}
