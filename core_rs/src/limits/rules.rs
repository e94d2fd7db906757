//! Jurisdiction purchase-limit rules: the validated model `limits` evaluates.
//!
//! `edge/limits/rules.py` reads `config/limits/<CODE>.toml`, names every problem by file,
//! version, class and key, converts quantities to exact rationals in base units (mg, ml, units)
//! and hands this model over through `py/limits.rs`; `validate` re-checks the invariants the
//! engine relies on.

use std::fmt;
use std::str::FromStr;

use super::rational::Ratio;

/// Product categories a cart line can have (docs/formats.md `Category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Flower,
    Concentrate,
    Edible,
    InfusedLiquid,
    Topical,
    Plant,
    Seed,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Flower,
        Category::Concentrate,
        Category::Edible,
        Category::InfusedLiquid,
        Category::Topical,
        Category::Plant,
        Category::Seed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Flower => "flower",
            Category::Concentrate => "concentrate",
            Category::Edible => "edible",
            Category::InfusedLiquid => "infused_liquid",
            Category::Topical => "topical",
            Category::Plant => "plant",
            Category::Seed => "seed",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown category {s:?}"))
    }
}

/// What a bucket counts of a line; all but `Units` are per-unit figures times the quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// Net weight in mg (`net_weight_mg`).
    NetWeight,
    /// Concentrate contained in mg (`concentrate_mg`).
    Concentrate,
    /// THC in mg (`thc_mg`).
    Thc,
    /// The total cannabinoid weight, THC plus CBD, in mg (`thc_mg` + `cbd_mg`): New Jersey's
    /// equivalency (nj.gov/cannabis/adult-personal/).
    ThcCbd,
    /// Volume in ml (`volume_ml`).
    Volume,
    /// The number of units (plants, seeds, packages).
    Units,
}

impl Measure {
    pub const ALL: [Measure; 6] = [
        Measure::NetWeight,
        Measure::Concentrate,
        Measure::Thc,
        Measure::ThcCbd,
        Measure::Volume,
        Measure::Units,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Measure::NetWeight => "net_weight",
            Measure::Concentrate => "concentrate",
            Measure::Thc => "thc",
            Measure::ThcCbd => "thc_cbd",
            Measure::Volume => "volume",
            Measure::Units => "units",
        }
    }

    /// The CART.json field that carries the measure (`quantity` for units).
    pub const fn field(self) -> &'static str {
        match self {
            Measure::NetWeight => "net_weight_mg",
            Measure::Concentrate => "concentrate_mg",
            Measure::Thc => "thc_mg",
            Measure::ThcCbd => "thc_mg and cbd_mg",
            Measure::Volume => "volume_ml",
            Measure::Units => "quantity",
        }
    }

    /// Base unit of the integer amounts.
    pub const fn unit(self) -> &'static str {
        match self {
            Measure::NetWeight | Measure::Concentrate | Measure::Thc | Measure::ThcCbd => "mg",
            Measure::Volume => "ml",
            Measure::Units => "units",
        }
    }
}

impl FromStr for Measure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Measure::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown measure {s:?}"))
    }
}

/// Which prior purchases count with the cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The cart alone.
    Transaction,
    /// Purchases on the same calendar day in the store's time zone.
    CalendarDay,
    /// Purchases less than N x 24 h before the check time (and any later ones).
    RollingDays(u32),
}

impl Window {
    pub fn describe(self) -> String {
        match self {
            Window::Transaction => "per transaction".into(),
            Window::CalendarDay => "per calendar day".into(),
            Window::RollingDays(n) => format!("per rolling {n} days"),
        }
    }
}

/// One category/measure a bucket counts, and how many bucket units one base unit uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub category: Category,
    pub measure: Measure,
    /// Bucket units per mg/ml/unit; positive.
    pub factor: Ratio,
}

/// A capped quantity: a single category, a shared equivalency budget, or a sub-cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketRule {
    pub name: String,
    /// Unit the state states the cap in ("oz", "g", "mg", "MME"...), used for display.
    pub unit: String,
    /// Cap in `unit`; zero means the categories are not sold to the class.
    pub cap: Ratio,
    pub window: Window,
    pub members: Vec<Member>,
}

/// The buckets of one customer class (`adult`, `adult_nonresident`, `medical`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassRule {
    pub name: String,
    pub buckets: Vec<BucketRule>,
}

/// The rules in force from `effective_day` (proleptic Gregorian ordinal, Python's
/// `date.toordinal()`) until the next version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleVersion {
    pub effective_day: i32,
    /// The effective date as written in the rule file, for messages ("2024-01-01").
    pub label: String,
    pub classes: Vec<ClassRule>,
}

/// A rule model that breaks an invariant of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError(pub String);

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RuleError {}

/// Check what the engine assumes: versions in increasing date order, unique class and bucket
/// names, positive factors, non-negative caps.
pub fn validate(code: &str, versions: &[RuleVersion]) -> Result<(), RuleError> {
    let err = |msg: String| Err(RuleError(format!("{code}: {msg}")));
    if versions.is_empty() {
        return err("no rule versions".into());
    }
    for pair in versions.windows(2) {
        if pair[0].effective_day >= pair[1].effective_day {
            return err(format!(
                "version {} must come before version {} and be earlier",
                pair[0].label, pair[1].label
            ));
        }
    }
    for v in versions {
        for (i, class) in v.classes.iter().enumerate() {
            if v.classes[..i].iter().any(|c| c.name == class.name) {
                return err(format!("version {}: class {} twice", v.label, class.name));
            }
            for (j, b) in class.buckets.iter().enumerate() {
                let at = format!(
                    "version {}: class {}: bucket {}",
                    v.label, class.name, b.name
                );
                if class.buckets[..j].iter().any(|o| o.name == b.name) {
                    return err(format!("{at}: name used twice"));
                }
                if b.cap.num() < 0 {
                    return err(format!("{at}: cap must not be negative"));
                }
                if b.members.is_empty() {
                    return err(format!("{at}: counts nothing"));
                }
                if let Some(m) = b.members.iter().find(|m| !m.factor.is_positive()) {
                    return err(format!(
                        "{at}: factor of {} must be positive",
                        m.category.as_str()
                    ));
                }
            }
        }
    }
    Ok(())
}
