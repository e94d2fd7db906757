//! INVENTORY.json parsing, lookup, near-miss exactness and reconciliation.

use _core::scan::inventory::Inventory;
use _core::scan::osa;
use _core::scan::reconcile::reconcile;
use std::collections::{BTreeSet, HashMap};

const ONE: &str = r#"{"Label": "1a4060300002c9b000012345", "Item": {"Name": "Blue Dream", "UnitThcContent": 245.10},
    "Sku": "FLW", "Batch": "B-1", "Quantity": 3.50, "NetWeightMg": 3500, "Location": "shelf-1", "Id": 99,
    "PackagedDate": "2026-09-30T00:00:00", "ExpirationDate": null, "Unknown": {"deep": [1, 2]}}"#;

#[test]
fn parses_array_and_metrc_page() {
    for text in [
        format!("[{ONE}]"),
        format!(r#"{{"Total": 1, "Data": [{ONE}], "PageNumber": 1}}"#),
    ] {
        let inv = Inventory::from_json(text.as_bytes()).unwrap();
        let id = inv.lookup("1A4060300002C9B000012345").unwrap();
        assert_eq!(inv.label(id), "1A4060300002C9B000012345");
        let r = inv.record(id);
        // Decimals keep their exact text: no float round trip.
        assert_eq!(inv.text(r.quantity), Some("3.50"));
        assert_eq!(inv.text(r.unit_thc_content), Some("245.10"));
        assert_eq!(r.measures[0], 3500);
    }
}

#[test]
fn streams_from_a_reader() {
    let text = format!("[{ONE}]");
    let inv = Inventory::from_reader(text.as_bytes()).unwrap();
    assert_eq!(inv.len(), 1);
}

#[test]
fn bad_files_say_what_and_where() {
    let cases = [
        (
            r#"[{"Label": "A", "Item": {"Name": "n"}, "Batch": "b"}]"#,
            r#"package #1 (Label A): "Sku" is missing"#,
        ),
        (
            r#"[{"Item": {"Name": "n"}, "Sku": "s", "Batch": "b"}]"#,
            r#""Label" is missing"#,
        ),
        (
            r#"[{"Label": "A", "Item": {"Name": "n"}, "Sku": "s", "Batch": "b", "NetWeightMg": 3.5}]"#,
            "whole number",
        ),
        (
            r#"[{"Label": "A", "Item": {"Name": "n"}, "Sku": "s", "Batch": "b", "Quantity": "1"}]"#,
            "expected a number",
        ),
        (
            r#"[{"Label": "A", "Item": {"Name": "n"}, "Sku": "s", "Batch": "b", "PackagedDate": "30/09/2026"}]"#,
            "YYYY-MM-DD",
        ),
        (
            r#"[{"Label": "A", "Item": {"Name": "n"}, "Sku": "s", "Batch": "b"}, {"Label": "a", "Item": {"Name": "n"}, "Sku": "s", "Batch": "b"}]"#,
            "duplicate Label A: packages #1 and #2",
        ),
        (r#"{"Total": 0}"#, "Data"),
        (r#"[{"Label": "A""#, "EOF"),
        ("[] []", "trailing"),
        (
            r#"[{"Label": "A", "Item": {"Name": "n"}, "Sku": 5, "Batch": "b"}]"#,
            "a string for \"Sku\"",
        ),
    ];
    for (text, want) in cases {
        let err = Inventory::from_json(text.as_bytes()).unwrap_err();
        assert!(err.0.contains(want), "{text}: {}", err.0);
        let err = Inventory::from_reader(Trickle(text.as_bytes())).unwrap_err();
        assert!(err.0.contains(want), "streamed {text}: {}", err.0);
    }
    let stream_only = [
        ("[{\"Label\": \"A\", \"Item\": {\"Name\": \"n\"}, \"Sku\": \"s\", \"Batch\": \"b\"},]", "trailing ','"),
        ("[{\"Label\": \"A\", \"Item\": {\"Name\": \"n\"}, \"Sku\": \"s\", \"Batch\": \"b\"} {}]", "expected ','"),
        ("[5]", "must be a JSON object"),
        ("7", "expected an array"),
    ];
    for (text, want) in stream_only {
        let err = Inventory::from_reader(Trickle(text.as_bytes())).unwrap_err();
        assert!(err.0.contains(want), "streamed {text}: {}", err.0);
        assert!(Inventory::from_json(text.as_bytes()).is_err());
    }
}

/// A reader that hands out three bytes at a time, so every block boundary case is crossed.
struct Trickle<'a>(&'a [u8]);
impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(3).min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn streamed_and_sliced_agree_and_place_errors() {
    let text = format!(
        "{{\"Total\": [1, {{\"x\": \"]}}\"}}],\n \"Data\": [\n{ONE},\n{ONE2}\n]}}",
        ONE2 = ONE.replace("12345", "12346")
    );
    let a = Inventory::from_json(text.as_bytes()).unwrap();
    let b = Inventory::from_reader(Trickle(text.as_bytes())).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(
        (0..2).map(|i| a.label(i)).collect::<Vec<_>>(),
        (0..2).map(|i| b.label(i)).collect::<Vec<_>>()
    );
    let bad = "[\n{\"Label\": \"A\", \"Item\": {\"Name\": \"n\"}, \"Sku\": \"s\", \"Batch\": \"b\"},\n  {\"Label\": \"B\", \"Sku\": 7}]";
    let sliced = Inventory::from_json(bad.as_bytes()).unwrap_err().0;
    let streamed = Inventory::from_reader(Trickle(bad.as_bytes()))
        .unwrap_err()
        .0;
    assert_eq!(sliced, streamed);
    assert!(sliced.ends_with("at line 3 column 25"), "{sliced}");
}

/// A small deterministic generator (xorshift), so the property runs without extra crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_tag(rng: &mut Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.below(alphabet.len())] as char)
        .collect()
}

#[test]
fn near_miss_equals_brute_force() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..20 {
        let alphabet: &[u8] = if round % 2 == 0 {
            b"01"
        } else {
            b"0123456789ABCDEF"
        };
        let n = 50 + rng.below(300);
        let mut tags = BTreeSet::new();
        while tags.len() < n {
            let len = 3 + rng.below(6);
            tags.insert(random_tag(&mut rng, alphabet, len));
        }
        let tags: Vec<String> = tags.into_iter().collect();
        let json: Vec<String> = tags
            .iter()
            .map(|t| {
                format!(r#"{{"Label": "{t}", "Item": {{"Name": "n"}}, "Sku": "s", "Batch": "b"}}"#)
            })
            .collect();
        let inv = Inventory::from_json(format!("[{}]", json.join(",")).as_bytes()).unwrap();
        for _ in 0..30 {
            let qlen = 1 + rng.below(9);
            let q = random_tag(&mut rng, alphabet, qlen);
            for k in 0..=3u8 {
                let mut want: Vec<(usize, &str)> = tags
                    .iter()
                    .map(|t| (osa::distance(t.as_bytes(), q.as_bytes()), t.as_str()))
                    .filter(|&(d, _)| d <= usize::from(k))
                    .collect();
                want.sort();
                let got: Vec<(usize, &str)> = inv
                    .near(&q, k, None)
                    .iter()
                    .map(|h| (usize::from(h.distance), inv.label(h.id)))
                    .collect();
                assert_eq!(got, want, "query {q} k {k}");
                let limited: Vec<(usize, &str)> = inv
                    .near(&q, k, Some(3))
                    .iter()
                    .map(|h| (usize::from(h.distance), inv.label(h.id)))
                    .collect();
                assert_eq!(limited, want.iter().take(3).copied().collect::<Vec<_>>());
            }
        }
    }
}

#[test]
fn reconciliation_sorts_counts() {
    let pkgs: Vec<String> = [
        ("T1", "s1"),
        ("T2", "s1"),
        ("T3", "s2"),
        ("T4", "s2"),
        ("T5", ""),
    ]
    .iter()
    .map(|(t, l)| {
        let loc = if l.is_empty() {
            String::new()
        } else {
            format!(r#", "Location": "{l}""#)
        };
        format!(r#"{{"Label": "{t}", "Item": {{"Name": "n"}}, "Sku": "s", "Batch": "b"{loc}}}"#)
    })
    .collect();
    let inv = Inventory::from_json(format!("[{}]", pkgs.join(",")).as_bytes()).unwrap();
    let counted: Vec<(String, String)> = [
        ("t1", "s1"),
        ("T3", "s1"),
        ("T9", "s1"),
        ("T1", "s1"),
        ("T5", "s9"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let r = reconcile(&inv, &counted, Some(&["s1".to_string()]));
    assert_eq!(r.matched, vec!["T1", "T5"]);
    assert_eq!(r.missing, vec!["T2"]);
    assert_eq!(r.unexpected, vec![("T9".to_string(), "s1".to_string())]);
    assert_eq!(
        r.wrong_place,
        vec![("T3".to_string(), "s1".to_string(), "s2".to_string())]
    );
    assert_eq!(r.duplicates, vec!["T1"]);
    let all = reconcile(&inv, &counted, None);
    let missing: HashMap<&str, ()> = all.missing.iter().map(|t| (t.as_str(), ())).collect();
    assert_eq!(missing.len(), 2, "T2 and T4 are missing vault-wide");
}
