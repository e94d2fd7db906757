//! The purchase-limit engine: exact, integer-only evaluation of a cart against a rule set.
//!
//! At construction every bucket is scaled by the least common multiple `L` of its cap's and
//! factors' denominators, so a line's use of the bucket is `amount * weight` and the cap is an
//! integer: the per-line path has no division, no rational and no float.

pub mod clock;
pub mod history;
pub mod rational;
pub mod rules;

use std::fmt;

use rational::{gcd_u64, lcm, mul, Ratio};
use rules::{BucketRule, Category, Measure, RuleError, RuleVersion, Window};

const SECONDS_PER_DAY: i64 = 86_400;

/// One cart line or prior purchase: a category, a unit count and per-unit measures.
///
/// `portion_den` makes the content measures (`concentrate_mg`, `thc_mg`, `cbd_mg`) exact rationals: they
/// are numerators over `portion_den` (0 or 1: whole mg). A weighed portion of a bulk package
/// counts `bulk_mg * net / bulk_net` of them (`Line::portion`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub category: Option<Category>,
    pub quantity: u64,
    pub net_weight_mg: Option<u64>,
    pub concentrate_mg: Option<u64>,
    pub thc_mg: Option<u64>,
    pub volume_ml: Option<u64>,
    pub portion_den: u64,
    pub cbd_mg: Option<u64>,
}

impl Line {
    pub fn new(category: Category, quantity: u64) -> Self {
        Self {
            category: Some(category),
            quantity,
            ..Self::default()
        }
    }

    /// A weighed portion of `net_mg` cut from a bulk package of `bulk_net_mg` whose content
    /// measures are `concentrate_mg`, `thc_mg` and `cbd_mg`: the net weight is the captured one and the
    /// contents count in proportion, exactly (`bulk_mg * net / bulk_net`). A bulk package without
    /// a (positive) net weight keeps its contents whole: nothing to scale by, and never less.
    pub fn portion(mut self, net_mg: u64, bulk_net_mg: Option<u64>) -> Self {
        self.net_weight_mg = Some(net_mg);
        let Some(bulk) = bulk_net_mg.filter(|&b| b > 0) else {
            return self;
        };
        let g = gcd_u64(net_mg, bulk).max(1);
        let (mul, den) = (net_mg / g, bulk / g);
        let scale = |v: Option<u64>| v.map(|x| x.checked_mul(mul));
        match (
            scale(self.concentrate_mg),
            scale(self.thc_mg),
            scale(self.cbd_mg),
        ) {
            (Some(None), _, _) | (_, Some(None), _) | (_, _, Some(None)) => {
                // Too large for u64: keep the whole bulk figure (conservative) by marking overflow.
                self.portion_den = u64::MAX;
            }
            (c, t, d) => {
                self.concentrate_mg = c.flatten();
                self.thc_mg = t.flatten();
                self.cbd_mg = d.flatten();
                self.portion_den = den;
            }
        }
        self
    }

    fn den(&self) -> i128 {
        i128::from(self.portion_den.max(1))
    }

    /// Total of `measure` over the line's units, scaled by `content` (`den / self.den()`) for
    /// content measures and by `den` for the others (`den` is a multiple of every line's
    /// denominator); None when the line lacks the per-unit figure. (Products are checked:
    /// `Some(None)`.)
    fn amount_with(&self, measure: Measure, den: i128, content: i128) -> Option<Option<i128>> {
        let (per_unit, mult) = match measure {
            Measure::NetWeight => (self.net_weight_mg, den),
            Measure::Concentrate => (self.concentrate_mg, content),
            Measure::Thc => (self.thc_mg, content),
            Measure::ThcCbd => match (self.thc_mg, self.cbd_mg) {
                (Some(t), Some(c)) => match t.checked_add(c) {
                    Some(sum) => (Some(sum), content),
                    None => return Some(None),
                },
                _ => (None, 1),
            },
            Measure::Volume => (self.volume_ml, den),
            Measure::Units => (Some(1), den),
        };
        let per_unit = per_unit?;
        Some(mul(i128::from(per_unit), i128::from(self.quantity)).and_then(|v| mul(v, mult)))
    }
}

/// A purchase made before the cart: when (epoch seconds, and its calendar day in the store's
/// time zone as a proleptic Gregorian ordinal) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prior {
    pub at_s: i64,
    pub day: i32,
    pub line: Line,
}

/// Input the engine cannot evaluate; the message names the offending line and field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitError {
    NoVersion {
        earliest: String,
    },
    UnknownClass {
        class: String,
        version: String,
        known: Vec<String>,
    },
    MissingMeasure {
        source: &'static str,
        index: usize,
        category: Category,
        field: &'static str,
    },
    MissingCategory {
        source: &'static str,
        index: usize,
    },
    TooLarge {
        source: &'static str,
        index: usize,
    },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::NoVersion { earliest } => write!(
                f,
                "no rule version is in force on that date (the earliest takes effect {earliest})"
            ),
            LimitError::UnknownClass {
                class,
                version,
                known,
            } => write!(
                f,
                "customer class {class:?} is not defined in the rule version of {version} \
                 (defined: {})",
                known.join(", ")
            ),
            LimitError::MissingMeasure {
                source,
                index,
                category,
                field,
            } => write!(
                f,
                "{source}[{index}]: a {} line needs {field} under this rule",
                category.as_str()
            ),
            LimitError::MissingCategory { source, index } => {
                write!(f, "{source}[{index}]: no category")
            }
            LimitError::TooLarge { source, index } => {
                write!(f, "{source}[{index}]: amount too large to evaluate")
            }
        }
    }
}

impl std::error::Error for LimitError {}

/// How a bucket stands after the cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketUse {
    pub name: String,
    pub unit: String,
    pub window: Window,
    pub cap: Ratio,
    /// Use by prior purchases inside the window, in `unit`.
    pub prior_used: Ratio,
    /// Use by the cart, in `unit`.
    pub cart_used: Ratio,
    /// `cap - prior_used - cart_used`; negative when over.
    pub remaining: Ratio,
    /// The cart adds to the bucket and takes it past its cap.
    pub over: bool,
}

impl BucketUse {
    /// The cap in the state's unit ("2.5 oz").
    pub fn cap_display(&self) -> String {
        format!("{} {}", self.cap.to_decimal(3), self.unit)
    }

    /// What remains in the state's unit, rounded down ("0.625 oz", "-0.5 g").
    pub fn remaining_display(&self) -> String {
        format!("{} {}", self.remaining.to_decimal(3), self.unit)
    }
}

/// The largest further amount of one category (in its measure's base unit) that still fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaxMore {
    pub category: Category,
    pub measure: Measure,
    pub amount: i128,
}

impl MaxMore {
    /// "2.5 g", "100 mg THC", "473 ml", "3 units".
    pub fn display(&self) -> String {
        display_amount(self.measure, self.amount)
    }
}

/// The first cart line (in cart order) after which a bucket it adds to is over its cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crossing {
    pub line: usize,
    pub bucket: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub version: String,
    pub class: String,
    pub buckets: Vec<BucketUse>,
    pub crossing: Option<Crossing>,
    pub max_more: Vec<MaxMore>,
}

struct Slot {
    bucket: usize,
    measure: Measure,
    weight: i128,
}

struct ScaledBucket {
    rule: BucketRule,
    scale: i128,
    cap: i128,
}

struct CompiledClass {
    name: String,
    buckets: Vec<ScaledBucket>,
    /// Per category index: the buckets it counts in.
    slots: [Vec<Slot>; 7],
}

struct CompiledVersion {
    effective_day: i32,
    label: String,
    classes: Vec<CompiledClass>,
}

/// One jurisdiction's compiled rules, ready to check carts.
pub struct LimitTable {
    code: String,
    versions: Vec<CompiledVersion>,
}

fn scale_bucket(rule: &BucketRule, at: &str) -> Result<ScaledBucket, RuleError> {
    let overflow = || RuleError(format!("{at}: numbers too large to evaluate exactly"));
    let mut scale = rule.cap.den();
    for m in &rule.members {
        scale = lcm(scale, m.factor.den()).ok_or_else(overflow)?;
    }
    let cap = rule.cap.scaled(scale).ok_or_else(overflow)?;
    Ok(ScaledBucket {
        rule: rule.clone(),
        scale,
        cap,
    })
}

fn compile_version(code: &str, v: &RuleVersion) -> Result<CompiledVersion, RuleError> {
    let mut classes = Vec::with_capacity(v.classes.len());
    for class in &v.classes {
        let mut buckets = Vec::with_capacity(class.buckets.len());
        let mut slots: [Vec<Slot>; 7] = Default::default();
        for (b, rule) in class.buckets.iter().enumerate() {
            let at = format!(
                "{code}: version {}: class {}: bucket {}",
                v.label, class.name, rule.name
            );
            let scaled = scale_bucket(rule, &at)?;
            for m in &rule.members {
                let weight = m
                    .factor
                    .scaled(scaled.scale)
                    .ok_or_else(|| RuleError(format!("{at}: factor too large")))?;
                slots[m.category.index()].push(Slot {
                    bucket: b,
                    measure: m.measure,
                    weight,
                });
            }
            buckets.push(scaled);
        }
        classes.push(CompiledClass {
            name: class.name.clone(),
            buckets,
            slots,
        });
    }
    Ok(CompiledVersion {
        effective_day: v.effective_day,
        label: v.label.clone(),
        classes,
    })
}

fn counts(window: Window, prior: &Prior, at_s: i64, day: i32) -> bool {
    match window {
        Window::Transaction => false,
        Window::CalendarDay => prior.day == day,
        Window::RollingDays(n) => prior.at_s > at_s - i64::from(n) * SECONDS_PER_DAY,
    }
}

/// The buckets' caps and the common denominator `den` of the cart's portions: every total is
/// in bucket units times `scale * den`.
struct Scaled<'a> {
    class: &'a CompiledClass,
    den: i128,
    caps: &'a [i128],
}

/// Add `line`'s use of every bucket its category counts in to `totals`; returns the index of
/// a bucket the line added to that is now over its cap, if any. `den` is the cart's common
/// denominator: a content measure counts `den / line.den()` per mg, the others `den`.
// The errors are built lazily: an eager `LimitError` is dropped through its drop glue on every
// slot of every line (measurable on the station's check), though it is never returned.
#[allow(clippy::unnecessary_lazy_evaluations)]
fn add_line(
    scaled: &Scaled<'_>,
    line: &Line,
    source: &'static str,
    index: usize,
    mut include: impl FnMut(Window) -> bool,
    totals: &mut [i128],
    added: &mut [i128],
) -> Result<Option<usize>, LimitError> {
    let category = line
        .category
        .ok_or_else(|| LimitError::MissingCategory { source, index })?;
    let class = scaled.class;
    let slots = &class.slots[category.index()];
    if slots.is_empty() {
        return Ok(None);
    }
    let den = scaled.den;
    // One division per line, not one per slot (an i128 division is a library call).
    let line_den = line.den();
    let content = if line_den == 1 { den } else { den / line_den };
    let mut crossed = None;
    for slot in slots {
        let amount = line
            .amount_with(slot.measure, den, content)
            .ok_or_else(|| LimitError::MissingMeasure {
                source,
                index,
                category,
                field: slot.measure.field(),
            })?
            .ok_or_else(|| LimitError::TooLarge { source, index })?;
        if !include(class.buckets[slot.bucket].rule.window) {
            continue;
        }
        let use_ =
            mul(amount, slot.weight).ok_or_else(|| LimitError::TooLarge { source, index })?;
        let total = &mut totals[slot.bucket];
        *total = total
            .checked_add(use_)
            .ok_or_else(|| LimitError::TooLarge { source, index })?;
        added[slot.bucket] = added[slot.bucket].saturating_add(use_);
        if use_ > 0 && *total > scaled.caps[slot.bucket] && crossed.is_none() {
            crossed = Some(slot.bucket);
        }
    }
    Ok(crossed)
}

fn display_amount(measure: Measure, amount: i128) -> String {
    match measure {
        Measure::NetWeight | Measure::Concentrate => {
            let grams = Ratio::new(amount, 1000).unwrap_or(Ratio::integer(0));
            format!("{} g", grams.to_decimal(3))
        }
        Measure::Thc => format!("{amount} mg THC"),
        Measure::ThcCbd => format!("{amount} mg THC+CBD"),
        Measure::Volume => format!("{amount} ml"),
        Measure::Units => format!("{amount} units"),
    }
}

fn ratio(value: i128, scale: i128) -> Ratio {
    Ratio::new(value, scale).unwrap_or(Ratio::integer(0))
}

/// A version's label and its classes' names and bucket rules (`LimitTable::shape`).
pub type VersionShape<'a> = (&'a str, Vec<(&'a str, Vec<&'a BucketRule>)>);

/// A cart evaluated, before anything is turned into reporting values: the rule version and
/// class applied, each bucket's uses as scaled integers, and the first crossing. The reporting
/// values (`LimitTable::bucket_use`, `max_more`, `verdict`) are derived from it on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    version: usize,
    class: usize,
    den: i128,
    /// Per bucket, four runs of `n`: totals, prior use, cart use and caps, in bucket units
    /// times `scale * den`.
    numbers: Vec<i128>,
    /// (cart line, bucket) of the first crossing.
    crossing: Option<(usize, usize)>,
    allowed: bool,
}

impl Evaluation {
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// How many buckets the applied class has.
    pub fn bucket_count(&self) -> usize {
        self.numbers.len() / 4
    }

    /// The cart line (0-based) and bucket index of the first crossing.
    pub fn crossing_at(&self) -> Option<(usize, usize)> {
        self.crossing
    }

    /// Whether the history or the cart uses bucket `b` at all.
    pub fn touched(&self, b: usize) -> bool {
        let (_, prior, cart, _) = self.runs();
        prior[b] != 0 || cart[b] != 0
    }

    fn runs(&self) -> (&[i128], &[i128], &[i128], &[i128]) {
        let n = self.bucket_count();
        let (totals, rest) = self.numbers.split_at(n);
        let (prior, rest) = rest.split_at(n);
        let (cart, caps) = rest.split_at(n);
        (totals, prior, cart, caps)
    }
}

impl LimitTable {
    /// Validate and compile `versions` (in increasing effective-date order).
    pub fn new(code: &str, versions: &[RuleVersion]) -> Result<Self, RuleError> {
        rules::validate(code, versions)?;
        let versions = versions
            .iter()
            .map(|v| compile_version(code, v))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            code: code.to_owned(),
            versions,
        })
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    /// The label of the version in force on `day`, if any.
    pub fn version_at(&self, day: i32) -> Option<&str> {
        self.find_version(day)
            .map(|v| self.versions[v].label.as_str())
    }

    fn find_version(&self, day: i32) -> Option<usize> {
        self.versions.iter().rposition(|v| v.effective_day <= day)
    }

    /// Every version's label and its classes' names and bucket rules, in table order: what
    /// an evaluation's (version, class, bucket) indices point at.
    pub fn shape(&self) -> Vec<VersionShape<'_>> {
        self.versions
            .iter()
            .map(|v| {
                let classes = v
                    .classes
                    .iter()
                    .map(|c| (c.name.as_str(), c.buckets.iter().map(|b| &b.rule).collect()));
                (v.label.as_str(), classes.collect())
            })
            .collect()
    }

    fn class_of(&self, e: &Evaluation) -> &CompiledClass {
        &self.versions[e.version].classes[e.class]
    }

    /// The label of the rule version `e` applied.
    pub fn version_label(&self, e: &Evaluation) -> &str {
        &self.versions[e.version].label
    }

    /// The customer class `e` applied.
    pub fn class_name(&self, e: &Evaluation) -> &str {
        &self.class_of(e).name
    }

    /// The (version, class) indices `e` applied, into `versions()`.
    pub fn indices(&self, e: &Evaluation) -> (usize, usize) {
        (e.version, e.class)
    }

    /// The rule of bucket `b` of `e`'s class.
    pub fn bucket_rule(&self, e: &Evaluation, b: usize) -> &BucketRule {
        &self.class_of(e).buckets[b].rule
    }

    /// Bucket `b`'s exact (prior use, cart use, total use, remaining) in its unit, and whether
    /// the cart takes it over its cap.
    pub fn bucket_values(&self, e: &Evaluation, b: usize) -> (Ratio, Ratio, Ratio, Ratio, bool) {
        let sb = &self.class_of(e).buckets[b];
        // Checked when evaluated: scale * den does not overflow.
        let scale = sb.scale * e.den;
        let (totals, prior, cart, caps) = e.runs();
        (
            ratio(prior[b], scale),
            ratio(cart[b], scale),
            ratio(totals[b], scale),
            ratio(caps[b] - totals[b], scale),
            cart[b] > 0 && totals[b] > caps[b],
        )
    }

    /// What remains of bucket `b` after `e` (negative when over), in its unit.
    pub fn remaining(&self, e: &Evaluation, b: usize) -> Ratio {
        let scale = self.class_of(e).buckets[b].scale * e.den;
        let (totals, _, _, caps) = e.runs();
        ratio(caps[b] - totals[b], scale)
    }

    /// How bucket `b` of `e` stands after the cart.
    pub fn bucket_use(&self, e: &Evaluation, b: usize) -> BucketUse {
        let rule = self.bucket_rule(e, b);
        let (prior_used, cart_used, _, remaining, over) = self.bucket_values(e, b);
        BucketUse {
            name: rule.name.clone(),
            unit: rule.unit.clone(),
            window: rule.window,
            cap: rule.cap,
            prior_used,
            cart_used,
            remaining,
            over,
        }
    }

    /// The first crossing of `e`, by bucket name.
    pub fn crossing(&self, e: &Evaluation) -> Option<Crossing> {
        e.crossing.map(|(line, b)| Crossing {
            line,
            bucket: self.bucket_rule(e, b).name.clone(),
        })
    }

    /// The largest further amount of each category (and measure) that still fits after `e`.
    pub fn max_more(&self, e: &Evaluation) -> Vec<MaxMore> {
        let class = self.class_of(e);
        let (totals, _, _, caps) = e.runs();
        let mut out: Vec<MaxMore> = Vec::new();
        for category in Category::ALL {
            for slot in &class.slots[category.index()] {
                let room = (caps[slot.bucket] - totals[slot.bucket]).max(0);
                // A product past i128 exceeds any room, so saturating it gives the right 0.
                let fits = room / slot.weight.saturating_mul(e.den);
                match out
                    .iter_mut()
                    .find(|m| m.category == category && m.measure == slot.measure)
                {
                    Some(existing) if existing.amount <= fits => {}
                    Some(existing) => existing.amount = fits,
                    None => out.push(MaxMore {
                        category,
                        measure: slot.measure,
                        amount: fits,
                    }),
                }
            }
        }
        out
    }

    /// The whole verdict of `e`.
    pub fn verdict(&self, e: &Evaluation) -> Verdict {
        Verdict {
            allowed: e.allowed,
            version: self.version_label(e).to_owned(),
            class: self.class_name(e).to_owned(),
            buckets: (0..e.bucket_count())
                .map(|b| self.bucket_use(e, b))
                .collect(),
            crossing: self.crossing(e),
            max_more: self.max_more(e),
        }
    }

    /// Evaluate `lines` for `class` at `at_s` (epoch seconds) on store-local `day`, with the
    /// customer's earlier purchases `prior`; priors outside a bucket's window are ignored.
    pub fn check(
        &self,
        class: &str,
        at_s: i64,
        day: i32,
        lines: &[Line],
        prior: &[Prior],
    ) -> Result<Verdict, LimitError> {
        let e = self.evaluate(class, at_s, day, lines, prior)?;
        Ok(self.verdict(&e))
    }

    /// `check` without building the verdict: one allocation, no division on the per-line path.
    pub fn evaluate(
        &self,
        class: &str,
        at_s: i64,
        day: i32,
        lines: &[Line],
        prior: &[Prior],
    ) -> Result<Evaluation, LimitError> {
        self.evaluate_with(class, at_s, day, lines, prior, None)
    }

    /// `evaluate`, taking the priors' use from `sums` (built from the same `prior`) where they
    /// are for the version and class in force and give the same numbers; else walking `prior`.
    pub fn evaluate_with(
        &self,
        class: &str,
        at_s: i64,
        day: i32,
        lines: &[Line],
        prior: &[Prior],
        sums: Option<&history::PriorSums>,
    ) -> Result<Evaluation, LimitError> {
        let vi = self
            .find_version(day)
            .ok_or_else(|| LimitError::NoVersion {
                earliest: self.versions[0].label.clone(),
            })?;
        let version = &self.versions[vi];
        let ci = version
            .classes
            .iter()
            .position(|c| c.name == class)
            .ok_or_else(|| LimitError::UnknownClass {
                class: class.to_owned(),
                version: version.label.clone(),
                known: version.classes.iter().map(|c| c.name.clone()).collect(),
            })?;
        let rules = &version.classes[ci];
        let n = rules.buckets.len();
        let mut den: i128 = 1;
        for (index, line) in lines.iter().enumerate() {
            if line.portion_den == u64::MAX {
                return Err(LimitError::TooLarge {
                    source: "lines",
                    index,
                });
            }
            den = lcm(den, line.den()).ok_or(LimitError::TooLarge {
                source: "lines",
                index,
            })?;
        }
        let too_large = || LimitError::TooLarge {
            source: "lines",
            index: 0,
        };
        let mut numbers = vec![0_i128; 4 * n];
        for (b, sb) in rules.buckets.iter().enumerate() {
            numbers[3 * n + b] = mul(sb.cap, den).ok_or_else(too_large)?;
        }
        if rules.buckets.iter().any(|b| mul(b.scale, den).is_none()) {
            return Err(too_large());
        }
        let (totals, rest) = numbers.split_at_mut(n);
        let (prior_used, rest) = rest.split_at_mut(n);
        let (cart_used, caps) = rest.split_at_mut(n);
        let scaled = Scaled {
            class: rules,
            den,
            caps,
        };
        let summed = sums
            .filter(|s| s.is_for(vi, ci))
            .and_then(|s| s.add_to(rules, at_s, day, den, totals, prior_used));
        if summed.is_none() {
            for (i, p) in prior.iter().enumerate() {
                let include = |w: Window| counts(w, p, at_s, day);
                add_line(&scaled, &p.line, "prior", i, include, totals, prior_used)?;
            }
        }
        let mut crossing = None;
        for (i, line) in lines.iter().enumerate() {
            let crossed = add_line(&scaled, line, "lines", i, |_| true, totals, cart_used)?;
            if let (None, Some(b)) = (&crossing, crossed) {
                crossing = Some((i, b));
            }
        }
        let allowed = !(0..n).any(|b| cart_used[b] > 0 && totals[b] > scaled.caps[b]);
        Ok(Evaluation {
            version: vi,
            class: ci,
            den,
            numbers,
            crossing,
            allowed,
        })
    }
}
