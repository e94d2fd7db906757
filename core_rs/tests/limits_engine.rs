//! The limit engine through its public Rust API: the three rule shapes, windows, versions,
//! crossing line, largest further amounts and input errors.

use _core::limits::rational::Ratio;
use _core::limits::rules::{BucketRule, Category, ClassRule, Measure, Member, RuleVersion, Window};
use _core::limits::{LimitError, LimitTable, Line, Prior};

const DAY: i64 = 86_400;
/// Ordinal of 2026-11-22 (Python `date(2026, 11, 22).toordinal()`).
const TODAY: i32 = 739_577;
const NOW: i64 = 1_795_000_000;

fn r(num: i128, den: i128) -> Ratio {
    Ratio::new(num, den).unwrap()
}

fn member(category: Category, measure: Measure, factor: Ratio) -> Member {
    Member {
        category,
        measure,
        factor,
    }
}

fn bucket(name: &str, unit: &str, cap: Ratio, window: Window, members: Vec<Member>) -> BucketRule {
    BucketRule {
        name: name.into(),
        unit: unit.into(),
        cap,
        window,
        members,
    }
}

fn version(day: i32, label: &str, buckets: Vec<BucketRule>) -> RuleVersion {
    RuleVersion {
        effective_day: day,
        label: label.into(),
        classes: vec![ClassRule {
            name: "adult".into(),
            buckets,
        }],
    }
}

/// Colorado's shape: 1 oz (28 g) = 8 g concentrate = 800 mg THC, one budget in oz.
fn equivalency() -> LimitTable {
    let b = bucket(
        "ounce",
        "oz",
        Ratio::integer(1),
        Window::Transaction,
        vec![
            member(Category::Flower, Measure::NetWeight, r(1, 28_000)),
            member(Category::Concentrate, Measure::NetWeight, r(1, 8_000)),
            member(Category::Edible, Measure::Thc, r(1, 800)),
        ],
    );
    LimitTable::new("CO", &[version(0, "0001-01-01", vec![b])]).unwrap()
}

fn flower(mg: u64, q: u64) -> Line {
    Line {
        net_weight_mg: Some(mg),
        ..Line::new(Category::Flower, q)
    }
}

fn concentrate(mg: u64) -> Line {
    Line {
        net_weight_mg: Some(mg),
        ..Line::new(Category::Concentrate, 1)
    }
}

#[test]
fn equivalency_exactly_at_cap_is_allowed() {
    // 14 g / 28 g + 4 g / 8 g = 1 oz.
    let v = equivalency()
        .check(
            "adult",
            NOW,
            TODAY,
            &[flower(14_000, 1), concentrate(4_000)],
            &[],
        )
        .unwrap();
    assert!(v.allowed);
    assert_eq!(v.buckets[0].remaining, Ratio::integer(0));
    assert_eq!(v.buckets[0].remaining_display(), "0 oz");
}

#[test]
fn equivalency_reports_crossing_line_and_what_fits() {
    // 7 g = 1/4 oz; 6 g concentrate = 3/4 oz; an edible of 1 mg THC crosses.
    let edible = Line {
        thc_mg: Some(1),
        ..Line::new(Category::Edible, 1)
    };
    let t = equivalency();
    let ok = t
        .check("adult", NOW, TODAY, &[flower(7_000, 1)], &[])
        .unwrap();
    let more: Vec<_> = ok.max_more.iter().map(|m| (m.category, m.amount)).collect();
    assert_eq!(
        more,
        vec![
            (Category::Flower, 21_000),
            (Category::Concentrate, 6_000),
            (Category::Edible, 600)
        ]
    );
    assert_eq!(ok.max_more[0].display(), "21 g");
    let lines = [flower(7_000, 1), concentrate(6_000), edible];
    let v = t.check("adult", NOW, TODAY, &lines, &[]).unwrap();
    assert!(!v.allowed);
    let crossing = v.crossing.unwrap();
    assert_eq!((crossing.line, crossing.bucket.as_str()), (2, "ounce"));
    assert_eq!(v.buckets[0].remaining, r(-1, 800));
}

#[test]
fn total_with_sub_cap() {
    // Michigan's shape in grams: 70 g total, 15 g of it concentrate.
    let total = bucket(
        "total",
        "g",
        Ratio::integer(70),
        Window::Transaction,
        vec![
            member(Category::Flower, Measure::NetWeight, r(1, 1000)),
            member(Category::Concentrate, Measure::NetWeight, r(1, 1000)),
        ],
    );
    let sub = bucket(
        "concentrate",
        "g",
        Ratio::integer(15),
        Window::Transaction,
        vec![member(
            Category::Concentrate,
            Measure::NetWeight,
            r(1, 1000),
        )],
    );
    let t = LimitTable::new("MI", &[version(0, "0001-01-01", vec![total, sub])]).unwrap();
    let ok = t
        .check(
            "adult",
            NOW,
            TODAY,
            &[concentrate(15_000), flower(55_000, 1)],
            &[],
        )
        .unwrap();
    assert!(ok.allowed);
    let v = t
        .check("adult", NOW, TODAY, &[concentrate(16_000)], &[])
        .unwrap();
    assert!(!v.allowed);
    assert_eq!(v.crossing.unwrap().bucket, "concentrate");
}

fn windowed(window: Window) -> LimitTable {
    let b = bucket(
        "flower",
        "g",
        Ratio::integer(10),
        window,
        vec![member(Category::Flower, Measure::NetWeight, r(1, 1000))],
    );
    LimitTable::new("XX", &[version(0, "0001-01-01", vec![b])]).unwrap()
}

fn prior(at_s: i64, day: i32, mg: u64) -> Prior {
    Prior {
        at_s,
        day,
        line: flower(mg, 1),
    }
}

#[test]
fn windows_decide_which_priors_count() {
    let earlier_today = prior(NOW - 3600, TODAY, 6_000);
    let yesterday = prior(NOW - DAY, TODAY - 1, 6_000);
    let cart = [flower(5_000, 1)];
    let check = |w: Window, p: &[Prior]| {
        windowed(w)
            .check("adult", NOW, TODAY, &cart, p)
            .unwrap()
            .allowed
    };
    assert!(check(
        Window::Transaction,
        std::slice::from_ref(&earlier_today)
    ));
    assert!(!check(
        Window::CalendarDay,
        std::slice::from_ref(&earlier_today)
    ));
    assert!(check(Window::CalendarDay, std::slice::from_ref(&yesterday)));
    assert!(!check(Window::RollingDays(2), &[yesterday]));
    // Exactly N x 24 h before the check no longer counts; one second later still does.
    assert!(check(
        Window::RollingDays(2),
        &[prior(NOW - 2 * DAY, TODAY - 2, 6_000)]
    ));
    assert!(!check(
        Window::RollingDays(2),
        &[prior(NOW - 2 * DAY + 1, TODAY - 2, 6_000)]
    ));
}

#[test]
fn priors_alone_over_the_cap_do_not_block_other_buckets() {
    let t = windowed(Window::CalendarDay);
    let p = [prior(NOW - 60, TODAY, 12_000)];
    let v = t.check("adult", NOW, TODAY, &[], &p).unwrap();
    assert!(v.allowed && !v.buckets[0].over);
    assert_eq!(v.max_more[0].amount, 0);
}

#[test]
fn versions_are_chosen_by_store_local_day() {
    let cap = |g: i128| {
        bucket(
            "flower",
            "g",
            Ratio::integer(g),
            Window::Transaction,
            vec![member(Category::Flower, Measure::NetWeight, r(1, 1000))],
        )
    };
    let versions = [
        version(TODAY - 10, "old", vec![cap(28)]),
        version(TODAY, "new", vec![cap(70)]),
    ];
    let t = LimitTable::new("OH", &versions).unwrap();
    let cart = [flower(40_000, 1)];
    assert!(
        !t.check("adult", NOW, TODAY - 1, &cart, &[])
            .unwrap()
            .allowed
    );
    let v = t.check("adult", NOW, TODAY, &cart, &[]).unwrap();
    assert!(v.allowed && v.version == "new");
    let err = t.check("adult", NOW, TODAY - 11, &cart, &[]).unwrap_err();
    assert_eq!(
        err,
        LimitError::NoVersion {
            earliest: "old".into()
        }
    );
}

#[test]
fn input_errors_are_named() {
    let t = equivalency();
    let no_thc = Line::new(Category::Edible, 1);
    let err = t.check("adult", NOW, TODAY, &[no_thc], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "lines[0]: a edible line needs thc_mg under this rule"
    );
    let err = t.check("medical", NOW, TODAY, &[], &[]).unwrap_err();
    assert!(err
        .to_string()
        .contains("customer class \"medical\" is not defined"));
    let huge = Line {
        net_weight_mg: Some(u64::MAX),
        ..Line::new(Category::Flower, u64::MAX)
    };
    assert!(matches!(
        t.check("adult", NOW, TODAY, &[huge], &[]),
        Err(LimitError::TooLarge { .. })
    ));
}

#[test]
fn invalid_models_are_refused() {
    let b = bucket(
        "x",
        "g",
        Ratio::integer(1),
        Window::Transaction,
        vec![member(
            Category::Flower,
            Measure::NetWeight,
            Ratio::integer(0),
        )],
    );
    let err = LimitTable::new("XX", &[version(0, "v", vec![b])])
        .err()
        .unwrap();
    assert!(err
        .to_string()
        .contains("factor of flower must be positive"));
    let unordered = [version(5, "b", vec![]), version(1, "a", vec![])];
    assert!(LimitTable::new("XX", &unordered).is_err());
}

#[test]
fn a_weighed_portion_counts_its_share_of_the_contents_exactly() {
    // 1 oz = 800 mg THC for edibles: 1000 mg * 33333 / 100000 = 333.33 mg = 33333/80000 oz.
    let bulk = Line {
        net_weight_mg: Some(100_000),
        thc_mg: Some(1_000),
        ..Line::new(Category::Edible, 1)
    };
    let portion = bulk.clone().portion(33_333, Some(100_000));
    assert_eq!(portion.net_weight_mg, Some(33_333));
    let t = equivalency();
    let v = t
        .check("adult", NOW, TODAY, std::slice::from_ref(&portion), &[])
        .unwrap();
    assert_eq!(v.buckets[0].cart_used, r(33_333, 80_000));
    assert!(v.allowed);
    // Two portions of different bulk sizes add exactly: 1/4 of 1000 mg plus 1/3 of 300 mg.
    let other = Line {
        net_weight_mg: Some(3),
        thc_mg: Some(300),
        ..Line::new(Category::Edible, 1)
    };
    let lines = [
        bulk.clone().portion(25_000, Some(100_000)),
        other.portion(1, Some(3)),
        flower(7_000, 1),
    ];
    let v = t.check("adult", NOW, TODAY, &lines, &[]).unwrap();
    // 250 mg + 100 mg THC = 350/800 oz, plus 7 g flower = 1/4 oz.
    assert_eq!(v.buckets[0].cart_used, r(350 + 200, 800));
    // A bulk package without a net weight keeps its contents whole.
    let unknown = Line {
        thc_mg: Some(1_000),
        ..Line::new(Category::Edible, 1)
    }
    .portion(10, None);
    assert_eq!(unknown.thc_mg, Some(1_000));
    assert_eq!(unknown.net_weight_mg, Some(10));
}

/// New Jersey's shape: edibles count their THC plus CBD, 1,000 mg fills the ounce.
fn total_cannabinoids() -> LimitTable {
    let b = bucket(
        "one-ounce equivalent",
        "oz",
        Ratio::integer(1),
        Window::Transaction,
        vec![member(Category::Edible, Measure::ThcCbd, r(1, 1_000))],
    );
    LimitTable::new("NJ", &[version(0, "0001-01-01", vec![b])]).unwrap()
}

fn edible(thc: u64, cbd: Option<u64>) -> Line {
    Line {
        thc_mg: Some(thc),
        cbd_mg: cbd,
        ..Line::new(Category::Edible, 1)
    }
}

#[test]
fn thc_cbd_counts_both_at_and_just_over_the_cap() {
    let t = total_cannabinoids();
    let at_cap = t
        .check("adult", NOW, TODAY, &[edible(500, Some(500))], &[])
        .unwrap();
    assert!(at_cap.allowed);
    assert_eq!(at_cap.buckets[0].remaining, Ratio::integer(0));
    let over = t
        .check("adult", NOW, TODAY, &[edible(500, Some(501))], &[])
        .unwrap();
    assert!(!over.allowed);
    assert_eq!(over.buckets[0].cart_used, r(1_001, 1_000));
    assert_eq!(over.max_more[0].display(), "0 mg THC+CBD");
}

#[test]
fn thc_cbd_needs_the_cbd_figure() {
    let err = total_cannabinoids()
        .check("adult", NOW, TODAY, &[edible(100, None)], &[])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "lines[0]: a edible line needs thc_mg and cbd_mg under this rule"
    );
}

#[test]
fn a_weighed_portion_scales_its_cbd_like_its_thc() {
    // A third of 1000 mg THC + 2000 mg CBD is 1000 mg: the cap exactly; 1 mg more of net is over.
    let bulk = Line {
        net_weight_mg: Some(30_000),
        ..edible(1_000, Some(2_000))
    };
    let t = total_cannabinoids();
    let third = bulk.clone().portion(10_000, Some(30_000));
    assert_eq!(
        (third.thc_mg, third.cbd_mg, third.portion_den),
        (Some(1_000), Some(2_000), 3)
    );
    let v = t.check("adult", NOW, TODAY, &[third], &[]).unwrap();
    assert!(v.allowed && v.buckets[0].cart_used == Ratio::integer(1));
    let more = bulk.portion(10_001, Some(30_000));
    let v = t.check("adult", NOW, TODAY, &[more], &[]).unwrap();
    assert!(!v.allowed);
    assert_eq!(v.buckets[0].cart_used, r(10_001, 10_000));
}
