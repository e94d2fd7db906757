//! The per-order prior sums (`limits::history::PriorSums`) against the walk over every prior
//! purchase: the same evaluation for every window, version and cart, and the walk's own errors
//! wherever the sums decline.

use _core::limits::history::PriorSums;
use _core::limits::rational::Ratio;
use _core::limits::rules::{BucketRule, Category, ClassRule, Measure, Member, RuleVersion, Window};
use _core::limits::{LimitError, LimitTable, Line, Prior};

const DAY: i64 = 86_400;
/// Ordinal of 2026-11-22 (Python `date(2026, 11, 22).toordinal()`).
const TODAY: i32 = 739_577;
const NOW: i64 = 1_795_000_000;

/// A small deterministic generator (xorshift64*): the test needs spread, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn member(category: Category, measure: Measure, num: i128, den: i128) -> Member {
    Member {
        category,
        measure,
        factor: Ratio::new(num, den).unwrap(),
    }
}

fn bucket(name: &str, cap: i128, window: Window, members: Vec<Member>) -> BucketRule {
    BucketRule {
        name: name.into(),
        unit: "g".into(),
        cap: Ratio::integer(cap),
        window,
        members,
    }
}

/// Two versions (the second from TODAY - 3), each with buckets in all three windows, sharing
/// categories across buckets, and weights that are not whole.
fn table() -> LimitTable {
    let buckets = |cap: i128| {
        vec![
            bucket(
                "day",
                cap,
                Window::CalendarDay,
                vec![
                    member(Category::Flower, Measure::NetWeight, 1, 1000),
                    member(Category::Edible, Measure::Thc, 1, 80),
                ],
            ),
            bucket(
                "rolling",
                3 * cap,
                Window::RollingDays(7),
                vec![
                    member(Category::Flower, Measure::NetWeight, 1, 1000),
                    member(Category::Concentrate, Measure::NetWeight, 7, 2000),
                ],
            ),
            bucket(
                "cart",
                cap,
                Window::Transaction,
                vec![member(Category::Edible, Measure::ThcCbd, 1, 100)],
            ),
        ]
    };
    let version = |day: i32, label: &str, cap: i128| RuleVersion {
        effective_day: day,
        label: label.into(),
        classes: vec![
            ClassRule {
                name: "adult".into(),
                buckets: buckets(cap),
            },
            ClassRule {
                name: "medical".into(),
                buckets: buckets(2 * cap),
            },
        ],
    };
    LimitTable::new(
        "XX",
        &[
            version(0, "0001-01-01", 30),
            version(TODAY - 3, "2026-11-19", 40),
        ],
    )
    .unwrap()
}

fn line(rng: &mut Rng) -> Line {
    let category =
        [Category::Flower, Category::Concentrate, Category::Edible][rng.below(3) as usize];
    let quantity = 1 + rng.below(3);
    let mut l = Line::new(category, quantity);
    l.net_weight_mg = Some(500 + rng.below(8_000));
    l.thc_mg = Some(rng.below(1_000));
    l.cbd_mg = Some(rng.below(200));
    l
}

/// A prior within the last 10 days; its day is the store-local day of a UTC-5 store.
fn prior(rng: &mut Rng) -> Prior {
    let at_s = NOW - rng.below(10 * DAY as u64) as i64;
    Prior {
        at_s,
        day: local_day(at_s),
        line: line(rng),
    }
}

fn local_day(at_s: i64) -> i32 {
    // NOW is TODAY at 10:33 UTC in this test's store (UTC-5): shift so that holds.
    let shift = (NOW - 5 * 3600).div_euclid(DAY) - i64::from(TODAY);
    ((at_s - 5 * 3600).div_euclid(DAY) - shift) as i32
}

fn cart(rng: &mut Rng) -> Vec<Line> {
    (0..rng.below(6))
        .map(|_| {
            let l = line(rng);
            if rng.below(3) == 0 {
                let bulk = l.net_weight_mg;
                l.portion(1 + rng.below(5_000), bulk)
            } else {
                l
            }
        })
        .collect()
}

fn same(t: &LimitTable, class: &str, at_s: i64, lines: &[Line], prior: &[Prior], s: &PriorSums) {
    let day = local_day(at_s);
    let walk = t.evaluate(class, at_s, day, lines, prior);
    let summed = t.evaluate_with(class, at_s, day, lines, prior, Some(s));
    assert_eq!(
        walk,
        summed,
        "class {class} at {at_s}, {} priors",
        prior.len()
    );
    if let Ok(e) = walk {
        assert_eq!(t.verdict(&e), t.verdict(&summed.unwrap()));
    }
}

#[test]
fn sums_give_the_walks_evaluation() {
    let t = table();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut summed_orders = 0;
    for _ in 0..400 {
        let class = ["adult", "medical"][rng.below(2) as usize];
        let history: Vec<Prior> = (0..rng.below(40)).map(|_| prior(&mut rng)).collect();
        let first = NOW - rng.below(DAY as u64) as i64;
        let Some(sums) = PriorSums::build(&t, class, local_day(first), &history) else {
            panic!("a clean history is summed");
        };
        summed_orders += 1;
        // Checks through the order, across midnight and across the version change.
        for step in 0..6 {
            let at_s = first + step * 5 * 3600 + rng.below(3600) as i64;
            same(&t, class, at_s, &cart(&mut rng), &history, &sums);
        }
        // A rolling-window edge: a prior exactly 7 x 24 h before the check does not count.
        if let Some(p) = history.first() {
            same(
                &t,
                class,
                p.at_s + 7 * DAY,
                &cart(&mut rng),
                &history,
                &sums,
            );
            same(
                &t,
                class,
                p.at_s + 7 * DAY - 1,
                &cart(&mut rng),
                &history,
                &sums,
            );
        }
    }
    assert_eq!(summed_orders, 400);
}

#[test]
fn sums_for_another_class_or_version_are_not_used() {
    let t = table();
    let mut rng = Rng(7);
    let history: Vec<Prior> = (0..30).map(|_| prior(&mut rng)).collect();
    let lines = cart(&mut rng);
    let old = PriorSums::build(&t, "adult", TODAY - 5, &history).unwrap();
    let medical = PriorSums::build(&t, "medical", TODAY, &history).unwrap();
    for s in [&old, &medical] {
        same(&t, "adult", NOW, &lines, &history, s);
    }
}

#[test]
fn histories_the_walk_refuses_or_scales_are_not_summed() {
    let t = table();
    let mut rng = Rng(11);
    let clean: Vec<Prior> = (0..5).map(|_| prior(&mut rng)).collect();
    let with = |f: &dyn Fn(&mut Prior)| {
        let mut h = clean.clone();
        f(&mut h[2]);
        h
    };
    let refused = [
        with(&|p| p.line.category = None),
        with(&|p| {
            p.line.category = Some(Category::Flower);
            p.line.net_weight_mg = None;
        }),
        with(&|p| p.line = p.line.clone().portion(100, Some(7_000))),
        // Days out of time order (a history the walk takes as given).
        with(&|p| {
            p.at_s = NOW - 9 * DAY;
            p.day = TODAY;
        }),
    ];
    for h in &refused {
        assert!(PriorSums::build(&t, "adult", TODAY, h).is_none());
    }
    // The walk's error stands where the sums declined: the first one names the prior.
    let err = t
        .evaluate("adult", NOW, TODAY, &[], &refused[0])
        .unwrap_err();
    assert_eq!(
        err,
        LimitError::MissingCategory {
            source: "prior",
            index: 2
        }
    );
    assert!(PriorSums::build(&t, "nobody", TODAY, &clean).is_none());
    assert!(PriorSums::build(&t, "adult", -1, &clean).is_none());
}

#[test]
fn a_denominator_past_i128_falls_back_to_the_walks_error() {
    let t = table();
    // A prior too old for any window, with an amount that overflows once scaled by the cart's
    // common denominator: the walk reports it although no window counts the prior.
    let mut old = Line::new(Category::Flower, 1);
    old.net_weight_mg = Some(1_000_000_000_000);
    old.quantity = u64::MAX / 2;
    let history = vec![Prior {
        at_s: NOW - 300 * DAY,
        day: TODAY - 300,
        line: old,
    }];
    let sums = PriorSums::build(&t, "adult", TODAY, &history).unwrap();
    let primes = [999_983_u64, 999_979, 999_961, 999_959, 999_953];
    let lines: Vec<Line> = primes
        .iter()
        .map(|&p| {
            let mut l = Line::new(Category::Edible, 1);
            l.net_weight_mg = Some(p);
            l.thc_mg = Some(10);
            l.cbd_mg = Some(1);
            l.portion(1, Some(p))
        })
        .collect();
    let walk = t.evaluate("adult", NOW, TODAY, &lines, &history);
    assert!(walk.is_err(), "the walk overflows: {walk:?}");
    assert_eq!(
        walk,
        t.evaluate_with("adult", NOW, TODAY, &lines, &history, Some(&sums))
    );
}
