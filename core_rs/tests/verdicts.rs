//! Scan verdicts against an order: one test per verdict, plus restore and Retail ID units.

use _core::civil_date;
use _core::scan::inventory::Inventory;
use _core::scan::order::Order;
use _core::scan::retail_id::{encode_url, Encoding};
use _core::scan::uid::Recogniser;
use _core::scan::verdict::{FifoPolicy, OrderCheck, Policy, VerdictKind};
use std::sync::Arc;

const A1: &str = "1A4060300002C9B000012345"; // FLW-BD-35 batch B-1, packed 09-30
const A2: &str = "1A4060300002C9B000012346"; // FLW-BD-35 batch B-1, packed 08-30 (older)
const A3: &str = "1A4060300002C9B000012347"; // FLW-BD-35 batch B-2
const HOLD: &str = "1A4060300002C9B000020001";
const EXPIRED: &str = "1A4060300002C9B000020002";
const FAILED: &str = "1A4060300002C9B000020003";
const OTHER: &str = "1A4060300002C9B000030001"; // EDB-GUM-10

fn pkg(label: &str, sku: &str, batch: &str, packed: &str, extra: &str) -> String {
    format!(
        r#"{{"Label": "{label}", "Item": {{"Name": "{sku} item"}}, "Sku": "{sku}", "Batch": "{batch}",
            "PackagedDate": "{packed}", "ExpirationDate": "2027-06-30", "LabTestingState": "TestPassed"{extra}}}"#
    )
}

fn inventory() -> Arc<Inventory> {
    let pkgs = [
        pkg(A1, "FLW-BD-35", "B-1", "2026-09-30", ""),
        pkg(A2, "FLW-BD-35", "B-1", "2026-08-30", ""),
        pkg(A3, "FLW-BD-35", "B-2", "2026-07-30", ""),
        pkg(
            HOLD,
            "PRE-RL-1",
            "P-1",
            "2026-09-01",
            r#", "IsOnHold": true"#,
        ),
        pkg(
            EXPIRED,
            "PRE-RL-1",
            "P-1",
            "2026-09-01",
            r#", "ExpirationDate": "2026-11-21""#,
        ),
        pkg(
            FAILED,
            "PRE-RL-1",
            "P-1",
            "2026-09-01",
            r#", "LabTestingState": "TestFailed""#,
        ),
        pkg(OTHER, "EDB-GUM-10", "G-1", "2026-09-01", ""),
    ];
    Arc::new(Inventory::from_json(format!("[{}]", pkgs.join(",")).as_bytes()).unwrap())
}

fn check(order: &str, policy: Policy) -> OrderCheck {
    let order = Order::from_json(order.as_bytes()).unwrap();
    let today = civil_date::parse("2026-11-22").unwrap();
    OrderCheck::new(
        order,
        inventory(),
        Arc::new(Recogniser::default()),
        today,
        policy,
    )
    .unwrap()
}

fn sku_order(batch: Option<&str>, quantity: u32) -> String {
    let batch = batch
        .map(|b| format!(r#", "batch": "{b}""#))
        .unwrap_or_default();
    format!(
        r#"{{"order_id": "9", "lines": [{{"line": 1, "sku": "FLW-BD-35"{batch}, "quantity": {quantity}}}]}}"#
    )
}

#[test]
fn match_then_duplicate() {
    let mut c = check(
        &format!(r#"{{"order_id": "1", "lines": [{{"uid": "{A1}"}}]}}"#),
        Policy::default(),
    );
    let v = c.scan(&format!(" {}\r\n", A1.to_lowercase()));
    assert_eq!(
        (v.verdict, v.line, v.accepted),
        (VerdictKind::Match, Some(1), true)
    );
    assert!(c.is_complete());
    let v = c.scan(A1);
    assert_eq!(
        (v.verdict, v.line, v.accepted),
        (VerdictKind::Duplicate, Some(1), false)
    );
}

#[test]
fn wrong_batch_lists_the_right_packages() {
    let mut c = check(&sku_order(Some("B-1"), 1), Policy::default());
    let v = c.scan(A3);
    assert_eq!(v.verdict, VerdictKind::WrongBatch);
    assert!(
        v.reason.contains("batch B-1") && v.reason.contains("batch B-2"),
        "{}",
        v.reason
    );
    assert_eq!(v.candidates, vec![A2.to_string(), A1.to_string()]); // oldest first
}

#[test]
fn wrong_batch_against_a_uid_line() {
    let mut c = check(
        &format!(r#"{{"order_id": "1", "lines": [{{"uid": "{A1}"}}]}}"#),
        Policy::default(),
    );
    let v = c.scan(A3);
    assert_eq!(
        (v.verdict, v.candidates.clone()),
        (VerdictKind::WrongBatch, vec![A1.to_string()])
    );
    let v = c.scan(A2); // same product and batch, but not the named package
    assert_eq!((v.verdict, v.line), (VerdictKind::NotInOrder, Some(1)));
}

#[test]
fn wrong_batch_names_the_open_line_not_a_filled_one() {
    let order = format!(
        r#"{{"order_id": "1", "lines": [{{"line": 1, "uid": "{A1}"}},
            {{"line": 2, "sku": "FLW-BD-35", "batch": "B-1"}}]}}"#
    );
    let mut c = check(&order, Policy::default());
    assert_eq!(c.scan(A1).verdict, VerdictKind::Match);
    let v = c.scan(A3); // batch B-2: line 1 is already filled, line 2 still wants batch B-1
    assert_eq!(
        (v.verdict, v.line, v.candidates.clone()),
        (VerdictKind::WrongBatch, Some(2), vec![A2.to_string()])
    );
}

#[test]
fn not_in_order_and_line_full() {
    let mut c = check(
        &sku_order(None, 1),
        Policy {
            fifo: FifoPolicy::Off,
            ..Policy::default()
        },
    );
    assert_eq!(c.scan(OTHER).verdict, VerdictKind::NotInOrder);
    assert_eq!(c.scan(A1).verdict, VerdictKind::Match);
    let v = c.scan(A2);
    assert_eq!(v.verdict, VerdictKind::NotInOrder);
    assert!(v.reason.contains("already has its 1"), "{}", v.reason);
}

#[test]
fn unknown_and_near_miss() {
    let mut c = check(&sku_order(Some("B-1"), 2), Policy::default());
    assert_eq!(
        c.scan("1A4060300002C9B000099999").verdict,
        VerdictKind::Unknown
    );
    // A transposition of A2's last two digits.
    let v = c.scan("1A4060300002C9B000012364");
    assert_eq!(v.verdict, VerdictKind::NearMiss);
    assert_eq!(v.candidates.first().map(String::as_str), Some(A2));
    assert!(!v.candidates.contains(&A3.to_string()), "B-2 is not wanted");
    // A dropped character: not a valid tag at all, but still close to what the order needs.
    let v = c.scan("1A4060300002C9B00001234");
    assert_eq!(v.verdict, VerdictKind::NearMiss);
    assert!(v.candidates.contains(&A1.to_string()));
}

#[test]
fn unsellable_packages() {
    let order = r#"{"order_id": "2", "lines": [{"sku": "PRE-RL-1", "quantity": 3}]}"#;
    let mut c = check(order, Policy::default());
    assert_eq!(c.scan(HOLD).verdict, VerdictKind::OnHold);
    let v = c.scan(EXPIRED);
    assert_eq!(v.verdict, VerdictKind::Expired);
    assert!(v.reason.contains("2026-11-21"));
    assert_eq!(c.scan(FAILED).verdict, VerdictKind::NotTested);
    assert!(c.picks().is_empty());
}

#[test]
fn fifo_warns_or_refuses() {
    let mut warn = check(&sku_order(Some("B-1"), 1), Policy::default());
    let v = warn.scan(A1);
    assert_eq!((v.verdict, v.accepted), (VerdictKind::Fifo, true));
    assert_eq!(v.candidates, vec![A2.to_string()]);
    let mut refuse = check(
        &sku_order(Some("B-1"), 1),
        Policy {
            fifo: FifoPolicy::Refuse,
            ..Policy::default()
        },
    );
    let v = refuse.scan(A1);
    assert_eq!((v.verdict, v.accepted), (VerdictKind::Fifo, false));
    assert_eq!(refuse.scan(A2).verdict, VerdictKind::Match);
    // Batch B-2 is older still, but the line fixed batch B-1, so it does not count.
    assert!(refuse.is_complete());
}

#[test]
fn malformed_and_gs1() {
    let mut c = check(&sku_order(None, 1), Policy::default());
    assert_eq!(c.scan("").verdict, VerdictKind::Malformed);
    assert_eq!(c.scan("HTTPS://1A4.COM/ZZ").verdict, VerdictKind::Malformed);
    assert_eq!(c.scan("hello world").verdict, VerdictKind::Malformed);
    assert_eq!(c.scan("]C10109501101530003").verdict, VerdictKind::Unknown);
}

#[test]
fn retail_id_units_count_separately() {
    let mut c = check(
        &sku_order(Some("B-1"), 2),
        Policy {
            fifo: FifoPolicy::Off,
            ..Policy::default()
        },
    );
    let u1 = encode_url(A1, 1, Encoding::Base36).unwrap();
    let u2 = encode_url(A1, 2, Encoding::Base64).unwrap();
    let v = c.scan(&u1);
    assert_eq!(
        (v.verdict, v.tag.as_deref(), v.unit),
        (VerdictKind::Match, Some(A1), Some(1))
    );
    assert_eq!(c.scan(&u1).verdict, VerdictKind::Duplicate);
    assert_eq!(
        c.scan(A1).verdict,
        VerdictKind::Duplicate,
        "the whole package after a unit"
    );
    assert_eq!(c.scan(&u2).verdict, VerdictKind::Match);
    assert!(c.is_complete());
}

#[test]
fn restore_and_picked() {
    let order = format!(
        r#"{{"order_id": "3", "lines": [{{"line": 7, "sku": "FLW-BD-35", "quantity": 2, "picked": ["{A2}"]}}]}}"#
    );
    let mut c = check(&order, Policy::default());
    assert_eq!(c.scan(A2).verdict, VerdictKind::Duplicate);
    c.restore(&[(A1.to_string(), 7)]).unwrap();
    assert!(c.is_complete());
    let mut fresh = check(&sku_order(None, 1), Policy::default());
    assert!(fresh
        .restore(&[(A1.to_string(), 2)])
        .unwrap_err()
        .0
        .contains("no line 2"));
    assert!(fresh
        .restore(&[(OTHER.to_string(), 1)])
        .unwrap_err()
        .0
        .contains("does not belong"));
    fresh.restore(&[(A1.to_string(), 1)]).unwrap();
    assert!(fresh
        .restore(&[(A2.to_string(), 1)])
        .unwrap_err()
        .0
        .contains("already complete"));
}

#[test]
fn bad_orders_are_named() {
    let cases = [
        (r#"{"lines": []}"#, "order_id"),
        (r#"{"order_id": "1", "lines": []}"#, "\"lines\" is empty"),
        (
            r#"{"order_id": "1", "lines": [{"uid": "X", "sku": "Y"}]}"#,
            "not both",
        ),
        (
            r#"{"order_id": "1", "lines": [{"quantity": 1}]}"#,
            "needs \"uid\" or \"sku\"",
        ),
        (
            r#"{"order_id": "1", "lines": [{"sku": "Y", "quantity": 0}]}"#,
            "at least 1",
        ),
        (
            r#"{"order_id": "1", "lines": [{"line": 1, "sku": "Y"}, {"line": 1, "sku": "Z"}]}"#,
            "used twice",
        ),
        ("not json", "expected"),
    ];
    for (text, want) in cases {
        let err = Order::from_json(text.as_bytes()).unwrap_err();
        assert!(err.0.contains(want), "{text}: {}", err.0);
    }
}
