//! PyO3 wrappers for the limits API (`crate::limits`), typed in edge/_core.pyi.
//!
//! The rule model goes in as keyword-built frozen classes (`LimitRuleVersion` >
//! `LimitRuleClass` > `LimitRuleBucket` > `LimitRuleMember`), checked once when `LimitRules`
//! compiles it. A verdict comes out as frozen classes (`LimitResult` with `BucketUse`, `MaxMore`,
//! `Crossing`) whose parts are converted only when read. Cart lines stay flat tuples: 70 of them cross per check, and a
//! tuple is the cheapest shape to build in Python and to read here. Exact values cross as
//! `(numerator, denominator)` int pairs or as `fractions.Fraction`, never as floats.

use pyo3::create_exception;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::scan::Inventory;
use super::CoreError;
use crate::limits::rational::Ratio;
use crate::limits::rules::{BucketRule, Category, ClassRule, Member, RuleVersion, Window};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use crate::limits::history::PriorSums;
use crate::limits::{self as engine, clock, Evaluation, LimitTable, Line, Prior};
use crate::scan::inventory::{Inventory as CoreInventory, NONE, NO_MEASURE};

create_exception!(
    edge._core,
    LimitRuleError,
    CoreError,
    "A rule model the limit engine cannot use (a CoreError)."
);
create_exception!(
    edge._core,
    LimitInputError,
    CoreError,
    "A cart the limit engine cannot evaluate (a CoreError)."
);

type Int<'py> = Bound<'py, PyAny>;

fn rule_err(msg: String) -> PyErr {
    LimitRuleError::new_err(msg)
}

/// An exact value given as a `fractions.Fraction` (or an int): its numerator and denominator.
/// A float or a string is refused with a TypeError, as PyO3 refuses a wrong argument type.
fn ratio_parts(value: &Bound<'_, PyAny>, what: &str) -> PyResult<(i128, i128)> {
    let part = |name: &str| value.getattr(name).and_then(|v| v.extract::<i128>());
    match (part("numerator"), part("denominator")) {
        (Ok(num), Ok(den)) => Ok((num, den)),
        _ => Err(PyTypeError::new_err(format!(
            "{what} must be a Fraction or an int, got {}",
            value.get_type().name()?
        ))),
    }
}

fn ratio_in((num, den): (i128, i128), at: &str) -> PyResult<Ratio> {
    Ratio::new(num, den).ok_or_else(|| rule_err(format!("{at}: zero denominator")))
}

fn window_in(kind: &str, days: u32, at: &str) -> PyResult<Window> {
    match (kind, days) {
        ("transaction", _) => Ok(Window::Transaction),
        ("day", _) => Ok(Window::CalendarDay),
        ("rolling", n) if n > 0 => Ok(Window::RollingDays(n)),
        _ => Err(rule_err(format!("{at}: bad window {kind:?} {days}"))),
    }
}

/// What one bucket counts: a category's measure, times `factor` bucket units per mg/ml/unit.
#[pyclass(frozen, module = "edge._core")]
struct LimitRuleMember {
    #[pyo3(get)]
    category: String,
    #[pyo3(get)]
    measure: String,
    #[pyo3(get)]
    factor: Py<PyAny>,
    ratio: (i128, i128),
}

#[pymethods]
impl LimitRuleMember {
    #[new]
    #[pyo3(signature = (*, category, measure, factor))]
    fn new(category: String, measure: String, factor: Bound<'_, PyAny>) -> PyResult<Self> {
        let ratio = ratio_parts(&factor, "factor")?;
        Ok(Self {
            category,
            measure,
            factor: factor.unbind(),
            ratio,
        })
    }
}

/// One capped quantity: `cap` (in `unit`) over a window, counting its members.
#[pyclass(frozen, module = "edge._core")]
struct LimitRuleBucket {
    #[pyo3(get)]
    name: String,
    #[pyo3(get)]
    unit: String,
    #[pyo3(get)]
    cap: Py<PyAny>,
    #[pyo3(get)]
    window: String,
    #[pyo3(get)]
    window_days: u32,
    #[pyo3(get)]
    members: Vec<Py<LimitRuleMember>>,
    ratio: (i128, i128),
}

#[pymethods]
impl LimitRuleBucket {
    #[new]
    #[pyo3(signature = (*, name, unit, cap, window, window_days, members))]
    fn new(
        name: String,
        unit: String,
        cap: Bound<'_, PyAny>,
        window: String,
        window_days: u32,
        members: Vec<Py<LimitRuleMember>>,
    ) -> PyResult<Self> {
        let ratio = ratio_parts(&cap, "cap")?;
        Ok(Self {
            name,
            unit,
            cap: cap.unbind(),
            window,
            window_days,
            members,
            ratio,
        })
    }
}

/// The buckets of one customer class.
#[pyclass(frozen, get_all, module = "edge._core")]
struct LimitRuleClass {
    name: String,
    buckets: Vec<Py<LimitRuleBucket>>,
}

#[pymethods]
impl LimitRuleClass {
    #[new]
    #[pyo3(signature = (*, name, buckets))]
    fn new(name: String, buckets: Vec<Py<LimitRuleBucket>>) -> Self {
        Self { name, buckets }
    }
}

/// One rule version: in force from `effective_day` (a `date.toordinal()`), labelled
/// "YYYY-MM-DD".
#[pyclass(frozen, get_all, module = "edge._core")]
struct LimitRuleVersion {
    effective_day: i32,
    label: String,
    classes: Vec<Py<LimitRuleClass>>,
}

#[pymethods]
impl LimitRuleVersion {
    #[new]
    #[pyo3(signature = (*, effective_day, label, classes))]
    fn new(effective_day: i32, label: String, classes: Vec<Py<LimitRuleClass>>) -> Self {
        Self {
            effective_day,
            label,
            classes,
        }
    }
}

fn member_in(m: &LimitRuleMember, at: &str) -> PyResult<Member> {
    Ok(Member {
        category: m
            .category
            .parse()
            .map_err(|e| rule_err(format!("{at}: {e}")))?,
        measure: m
            .measure
            .parse()
            .map_err(|e| rule_err(format!("{at}: {e}")))?,
        factor: ratio_in(m.ratio, at)?,
    })
}

fn bucket_in(b: &LimitRuleBucket, at: &str) -> PyResult<BucketRule> {
    let at = format!("{at}: bucket {}", b.name);
    Ok(BucketRule {
        cap: ratio_in(b.ratio, &at)?,
        window: window_in(&b.window, b.window_days, &at)?,
        name: b.name.clone(),
        unit: b.unit.clone(),
        members: b
            .members
            .iter()
            .map(|m| member_in(m.get(), &at))
            .collect::<PyResult<_>>()?,
    })
}

fn version_in(code: &str, v: &LimitRuleVersion) -> PyResult<RuleVersion> {
    let classes = v
        .classes
        .iter()
        .map(|c| {
            let c = c.get();
            let at = format!("{code}: version {}: class {}", v.label, c.name);
            let buckets = c
                .buckets
                .iter()
                .map(|b| bucket_in(b.get(), &at))
                .collect::<PyResult<_>>()?;
            Ok(ClassRule {
                name: c.name.clone(),
                buckets,
            })
        })
        .collect::<PyResult<_>>()?;
    Ok(RuleVersion {
        effective_day: v.effective_day,
        label: v.label.clone(),
        classes,
    })
}

fn category_in(s: &str, source: &str, index: usize) -> PyResult<Category> {
    s.parse()
        .map_err(|e| LimitInputError::new_err(format!("{source}[{index}]: {e}")))
}

/// A non-negative int. Extracting i64 skips the extra type check PyO3 does for u64 under
/// abi3 (this runs ~400 times per check); negatives are refused here instead.
fn count(v: Borrowed<'_, '_, PyAny>) -> PyResult<u64> {
    let n: i64 = v.extract()?;
    u64::try_from(n).map_err(|_| LimitInputError::new_err(format!("negative amount {n}")))
}

fn opt_count(v: Borrowed<'_, '_, PyAny>) -> PyResult<Option<u64>> {
    if v.is_none() {
        Ok(None)
    } else {
        count(v).map(Some)
    }
}

/// Reads `(category, quantity, net_weight_mg, concentrate_mg, thc_mg, volume_ml[, cbd_mg])`
/// from `t` starting at `first`, with borrowed items: this runs 70 times per check. `cbd_mg`
/// is optional (a tuple without it has no CBD figure).
fn line_from(t: &Bound<'_, PyTuple>, first: usize, source: &str, index: usize) -> PyResult<Line> {
    let item = |k: usize| t.get_borrowed_item(first + k);
    let name = item(0)?;
    let name = name.cast::<PyString>()?;
    let category = category_in(name.to_str()?, source, index)?;
    Ok(Line {
        category: Some(category),
        quantity: count(item(1)?)?,
        net_weight_mg: opt_count(item(2)?)?,
        concentrate_mg: opt_count(item(3)?)?,
        thc_mg: opt_count(item(4)?)?,
        volume_ml: opt_count(item(5)?)?,
        portion_den: 1,
        cbd_mg: if t.len() > first + 6 {
            opt_count(item(6)?)?
        } else {
            None
        },
    })
}

fn tuple_of<'a, 'py>(
    item: &'a Bound<'py, PyAny>,
    len: usize,
    source: &str,
    index: usize,
) -> PyResult<&'a Bound<'py, PyTuple>> {
    // `len` items, or one more: the optional trailing `cbd_mg`.
    match item.cast::<PyTuple>() {
        Ok(t) if t.len() == len || t.len() == len + 1 => Ok(t),
        _ => Err(LimitInputError::new_err(format!(
            "{source}[{index}]: expected a tuple of {len} or {} items",
            len + 1
        ))),
    }
}

/// A Python int; through i64 when it fits, because i128 conversion is slow under abi3.
fn int_out(py: Python<'_>, v: i128) -> PyResult<Int<'_>> {
    match i64::try_from(v) {
        Ok(small) => Ok(small.into_pyobject(py)?.into_any()),
        Err(_) => Ok(v.into_pyobject(py)?.into_any()),
    }
}

fn ratio_out(py: Python<'_>, r: Ratio) -> PyResult<Py<PyTuple>> {
    Ok(PyTuple::new(py, [int_out(py, r.num())?, int_out(py, r.den())?])?.unbind())
}

fn window_out(w: Window) -> (&'static str, u32) {
    match w {
        Window::Transaction => ("transaction", 0),
        Window::CalendarDay => ("day", 1),
        Window::RollingDays(n) => ("rolling", n),
    }
}

/// How one bucket stands after the cart; exact values as (numerator, denominator) in `unit`.
#[pyclass(frozen, get_all, module = "edge._core")]
struct BucketUse {
    name: String,
    unit: String,
    window: &'static str,
    window_days: u32,
    cap: Py<PyTuple>,
    prior_used: Py<PyTuple>,
    cart_used: Py<PyTuple>,
    remaining: Py<PyTuple>,
    over: bool,
    cap_display: String,
    remaining_display: String,
}

#[pymethods]
impl BucketUse {
    fn __repr__(&self) -> String {
        format!(
            "BucketUse(name={:?}, remaining={:?}, over={})",
            self.name,
            self.remaining_display,
            if self.over { "True" } else { "False" }
        )
    }
}

fn bucket_out(py: Python<'_>, b: &engine::BucketUse) -> PyResult<BucketUse> {
    let (window, window_days) = window_out(b.window);
    Ok(BucketUse {
        name: b.name.clone(),
        unit: b.unit.clone(),
        window,
        window_days,
        cap: ratio_out(py, b.cap)?,
        prior_used: ratio_out(py, b.prior_used)?,
        cart_used: ratio_out(py, b.cart_used)?,
        remaining: ratio_out(py, b.remaining)?,
        over: b.over,
        cap_display: b.cap_display(),
        remaining_display: b.remaining_display(),
    })
}

/// The largest further amount of a category that still fits, in its measure's base unit.
#[pyclass(frozen, get_all, module = "edge._core")]
struct MaxMore {
    category: &'static str,
    measure: &'static str,
    amount: Py<PyAny>,
    display: String,
}

#[pymethods]
impl MaxMore {
    fn __repr__(&self) -> String {
        format!(
            "MaxMore(category={:?}, measure={:?}, display={:?})",
            self.category, self.measure, self.display
        )
    }
}

/// The first cart line (0-based) after which a bucket it adds to is over its cap.
#[pyclass(frozen, get_all, module = "edge._core")]
struct Crossing {
    line: usize,
    bucket: String,
}

#[pymethods]
impl Crossing {
    fn __repr__(&self) -> String {
        format!("Crossing(line={}, bucket={:?})", self.line, self.bucket)
    }
}

/// A verdict as the engine left it (`engine::Evaluation`): every Python object is made when
/// read, so a caller that needs only `allowed` pays for nothing else; names, labels and caps
/// come from the rule table's strings, made once.
#[pyclass(frozen, module = "edge._core")]
struct LimitResult {
    rules: Py<LimitRules>,
    e: Evaluation,
    /// The cart lines (their categories name a crossing line in the reason).
    lines: Vec<Line>,
}

/// `str(fractions.Fraction)`: "7", "-5/2".
fn ratio_text(r: Ratio) -> String {
    if r.den() == 1 {
        r.num().to_string()
    } else {
        format!("{}/{}", r.num(), r.den())
    }
}

fn window_words(w: Window) -> String {
    match w {
        Window::Transaction => "per transaction".into(),
        Window::CalendarDay => "per calendar day (store time zone)".into(),
        Window::RollingDays(n) => format!("per rolling {n} days"),
    }
}

impl LimitResult {
    fn table(&self) -> &LimitTable {
        &self.rules.get().table
    }

    fn text(&self) -> &ClassText {
        let (v, c) = self.table().indices(&self.e);
        &self.rules.get().text[v].classes[c]
    }
}

#[pymethods]
impl LimitResult {
    #[getter]
    fn allowed(&self) -> bool {
        self.e.allowed()
    }

    #[getter]
    fn version(&self, py: Python<'_>) -> Py<PyString> {
        let (v, _) = self.table().indices(&self.e);
        self.rules.get().text[v].label.clone_ref(py)
    }

    #[getter]
    fn customer_class(&self, py: Python<'_>) -> Py<PyString> {
        self.text().name.clone_ref(py)
    }

    #[getter]
    fn crossing(&self) -> Option<Crossing> {
        self.table().crossing(&self.e).map(|c| Crossing {
            line: c.line,
            bucket: c.bucket,
        })
    }

    #[getter]
    fn buckets(&self, py: Python<'_>) -> PyResult<Vec<BucketUse>> {
        let table = self.table();
        (0..self.e.bucket_count())
            .map(|b| bucket_out(py, &table.bucket_use(&self.e, b)))
            .collect()
    }

    #[getter]
    fn max_more(&self, py: Python<'_>) -> PyResult<Vec<MaxMore>> {
        self.table()
            .max_more(&self.e)
            .iter()
            .map(|m| {
                Ok(MaxMore {
                    category: m.category.as_str(),
                    measure: m.measure.as_str(),
                    amount: int_out(py, m.amount)?.unbind(),
                    display: m.display(),
                })
            })
            .collect()
    }

    /// One sentence for a discrepancy slip (as `edge.limits.engine.LimitVerdict.reason`).
    #[getter]
    fn reason(&self, py: Python<'_>) -> Py<PyString> {
        if self.e.allowed() {
            return self.text().within.clone_ref(py);
        }
        PyString::new(py, &self.over_reason()).unbind()
    }

    /// (allowed, reason, version, customer_class) in one call: what the station's check reads
    /// of every verdict.
    fn summary(&self, py: Python<'_>) -> (bool, Py<PyString>, Py<PyString>, Py<PyString>) {
        (
            self.e.allowed(),
            self.reason(py),
            self.version(py),
            self.customer_class(py),
        )
    }

    /// The reported buckets as (name, unit, used rounded down, cap rounded down, used, cap,
    /// prior_used, cart_used), the last four exact as `str(Fraction)` in `unit`; used is prior
    /// plus cart. Zero-cap buckets the cart and the history never touch are left out.
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let (table, text) = (self.table(), self.text());
        let out = PyList::empty(py);
        for (b, names) in text.buckets.iter().enumerate() {
            let (prior, cart, used, _, _) = table.bucket_values(&self.e, b);
            // A "not sold" category's zero cap the cart and history never touched is left out.
            if !(names.cap_nonzero || cart.num() != 0 || prior.num() != 0) {
                continue;
            }
            let row = PyTuple::new(
                py,
                [
                    names.name.bind(py).clone().into_any(),
                    names.unit.bind(py).clone().into_any(),
                    int_out(py, used.floor())?,
                    names.limit.bind(py).clone(),
                    PyString::new(py, &ratio_text(used)).into_any(),
                    names.limit_exact.bind(py).clone().into_any(),
                    PyString::new(py, &ratio_text(prior)).into_any(),
                    PyString::new(py, &ratio_text(cart)).into_any(),
                ],
            )?;
            out.append(row)?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let table = self.table();
        format!(
            "LimitResult(allowed={}, version={:?}, customer_class={:?})",
            if self.e.allowed() { "True" } else { "False" },
            table.version_label(&self.e),
            table.class_name(&self.e)
        )
    }
}

impl LimitResult {
    fn over_reason(&self) -> String {
        let (table, text) = (self.table(), self.text());
        // The first reported bucket of the crossing's name (names are unique in a class, and
        // a crossed bucket is reported: the cart added to it).
        let over = self.e.crossing_at().and_then(|(line, b)| {
            let name = &table.bucket_rule(&self.e, b).name;
            (0..self.e.bucket_count())
                .filter(|&i| &table.bucket_rule(&self.e, i).name == name)
                .find(|&i| text.buckets[i].cap_nonzero || self.e.touched(i))
                .map(|i| (line, i))
        });
        let Some((line, b)) = over else {
            return text.over.clone();
        };
        let category = self
            .lines
            .get(line)
            .and_then(|l| l.category)
            .map_or("", |k| k.as_str());
        let remaining = table.remaining(&self.e, b).to_decimal(3);
        let bucket = &text.buckets[b];
        format!(
            "Cart line {} ({category}) goes over {}{} {} over.",
            line + 1,
            bucket.over_tail,
            remaining.strip_prefix('-').unwrap_or(&remaining),
            bucket.unit_text
        )
    }
}

/// A bucket's Python strings, made once per rule table.
struct BucketText {
    name: Py<PyString>,
    unit: Py<PyString>,
    /// The cap rounded down (an int) and exact (`str(Fraction)`).
    limit: Py<PyAny>,
    limit_exact: Py<PyString>,
    cap_nonzero: bool,
    /// "the CO adult limit 'flower' of 1 oz per transaction; the cart is " (an over reason's
    /// fixed part) and the unit after the excess.
    over_tail: String,
    unit_text: String,
}

struct ClassText {
    name: Py<PyString>,
    /// The reason of an allowed cart ("Within the CO adult purchase limits (...).").
    within: Py<PyString>,
    /// The reason of a refused cart without a crossing line (cannot happen: an over bucket
    /// has one).
    over: String,
    buckets: Vec<BucketText>,
}

struct VersionText {
    label: Py<PyString>,
    classes: Vec<ClassText>,
}

fn table_text(py: Python<'_>, table: &LimitTable) -> PyResult<Vec<VersionText>> {
    let code = table.code();
    table
        .shape()
        .into_iter()
        .map(|(label, classes)| {
            let classes = classes
                .into_iter()
                .map(|(name, buckets)| {
                    let buckets = buckets
                        .into_iter()
                        .map(|b| {
                            Ok(BucketText {
                                name: PyString::intern(py, &b.name).unbind(),
                                unit: PyString::intern(py, &b.unit).unbind(),
                                limit: int_out(py, b.cap.floor())?.unbind(),
                                limit_exact: PyString::new(py, &ratio_text(b.cap)).unbind(),
                                cap_nonzero: b.cap.num() != 0,
                                over_tail: format!(
                                    "the {code} {name} limit '{}' of {} {} {}; the cart is ",
                                    b.name,
                                    b.cap.to_decimal(3),
                                    b.unit,
                                    window_words(b.window)
                                ),
                                unit_text: b.unit.clone(),
                            })
                        })
                        .collect::<PyResult<_>>()?;
                    let within = format!(
                        "Within the {code} {name} purchase limits (rules in force from {label})."
                    );
                    Ok(ClassText {
                        name: PyString::intern(py, name).unbind(),
                        within: PyString::new(py, &within).unbind(),
                        over: format!(
                            "Over the {code} {name} purchase limits (rules in force from {label})."
                        ),
                        buckets,
                    })
                })
                .collect::<PyResult<_>>()?;
            Ok(VersionText {
                label: PyString::new(py, label).unbind(),
                classes,
            })
        })
        .collect()
}

/// One jurisdiction's compiled purchase-limit rules.
#[pyclass(frozen, module = "edge._core")]
struct LimitRules {
    table: LimitTable,
    text: Vec<VersionText>,
}

fn input_err(e: engine::LimitError) -> PyErr {
    LimitInputError::new_err(e.to_string())
}

#[pymethods]
impl LimitRules {
    #[new]
    fn new(py: Python<'_>, code: &str, versions: Vec<Py<LimitRuleVersion>>) -> PyResult<Self> {
        let versions: Vec<RuleVersion> = versions
            .iter()
            .map(|v| version_in(code, v.get()))
            .collect::<PyResult<_>>()?;
        let table = LimitTable::new(code, &versions).map_err(|e| rule_err(e.to_string()))?;
        let text = table_text(py, &table)?;
        Ok(Self { table, text })
    }

    #[getter]
    fn code(&self) -> &str {
        self.table.code()
    }

    /// The effective-date label of the version in force on `day`, or None.
    fn version_at(&self, day: i32) -> Option<String> {
        self.table.version_at(day).map(str::to_owned)
    }

    /// Evaluate a cart; see edge/_core.pyi for the line tuples.
    fn check(
        slf: &Bound<'_, Self>,
        customer_class: &str,
        at_s: i64,
        day: i32,
        lines: &Bound<'_, PyList>,
        prior: &Bound<'_, PyList>,
    ) -> PyResult<LimitResult> {
        let mut cart = Vec::with_capacity(lines.len());
        for (i, item) in lines.iter().enumerate() {
            cart.push(line_from(tuple_of(&item, 6, "lines", i)?, 0, "lines", i)?);
        }
        let past = priors_from(prior)?;
        let e = slf
            .get()
            .table
            .evaluate(customer_class, at_s, day, &cart, &past)
            .map_err(input_err)?;
        Ok(LimitResult {
            rules: slf.clone().unbind(),
            e,
            lines: cart,
        })
    }

    /// Evaluate the picked packages of an order: each pick (anything with `uid` and `net_mg`)
    /// is one unit of its inventory package, read here; a weighed pick counts its captured net
    /// weight and its package's contents in proportion (`Line::portion`). `history` holds the
    /// customer's prior purchases, prepared once per order.
    fn check_packages(
        slf: &Bound<'_, Self>,
        customer_class: &str,
        at_s: i64,
        day: i32,
        inventory: &Bound<'_, Inventory>,
        picks: &Bound<'_, PyList>,
        history: &LimitHistory,
    ) -> PyResult<LimitResult> {
        let cart = pick_lines(&inventory.get().inner, picks)?;
        let e = slf
            .get()
            .table
            .evaluate(customer_class, at_s, day, &cart, &history.prior)
            .map_err(input_err)?;
        Ok(LimitResult {
            rules: slf.clone().unbind(),
            e,
            lines: cart,
        })
    }
}

/// The cart lines of `picks` (each with `uid` and `net_mg`), read from the inventory records.
fn pick_lines(inv: &CoreInventory, picks: &Bound<'_, PyList>) -> PyResult<Vec<Line>> {
    let mut cart = Vec::with_capacity(picks.len());
    for pick in picks.iter() {
        cart.push(pick_line(inv, &pick)?);
    }
    Ok(cart)
}

/// The cart line of one pick (its `uid` and `net_mg`).
fn pick_line(inv: &CoreInventory, pick: &Bound<'_, PyAny>) -> PyResult<Line> {
    let py = pick.py();
    let uid = pick.getattr(intern!(py, "uid"))?;
    let uid = uid.cast::<PyString>()?.to_str()?;
    let net = pick.getattr(intern!(py, "net_mg"))?;
    let net: Option<i64> = if net.is_none() {
        None
    } else {
        Some(net.extract()?)
    };
    package_line(inv, uid, net)
}

/// Largest per-unit amount (mg or ml) accepted: far above any product, far below overflow
/// (`edge.limits.engine._MAX_AMOUNT`).
const MAX_AMOUNT: u64 = 1_000_000_000_000;

/// The cart line of one picked package: its category and measures from the inventory record.
fn package_line(inv: &CoreInventory, uid: &str, net_mg: Option<i64>) -> PyResult<Line> {
    let input = |msg: String| LimitInputError::new_err(msg);
    let id = inv
        .lookup(uid)
        .ok_or_else(|| input(format!("package {uid} is not in the inventory")))?;
    let rec = inv.record(id);
    let text = if rec.category == NONE {
        None
    } else {
        inv.text(rec.category)
    };
    let label = || inv.label(id);
    let category = text
        .and_then(|t| t.parse::<Category>().ok())
        .ok_or_else(|| {
            let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            let got = text.map_or("None".to_owned(), |t| format!("{t:?}"));
            input(format!(
                "package {}: category must be one of {}, got {got}",
                label(),
                names.join(", ")
            ))
        })?;
    let measure = |i: usize, field: &str| -> PyResult<Option<u64>> {
        let v = rec.measures[i];
        if v == NO_MEASURE {
            Ok(None)
        } else if v > MAX_AMOUNT {
            Err(input(format!(
                "package {}: {field} must be an integer in 0..{MAX_AMOUNT}, got {v}",
                label()
            )))
        } else {
            Ok(Some(v))
        }
    };
    let bulk_net = measure(0, "net_weight_mg")?;
    let line = Line {
        category: Some(category),
        quantity: 1,
        net_weight_mg: bulk_net,
        concentrate_mg: measure(3, "concentrate_mg")?,
        thc_mg: measure(1, "thc_mg")?,
        volume_ml: measure(4, "volume_ml")?,
        portion_den: 1,
        cbd_mg: measure(2, "cbd_mg")?,
    };
    match net_mg {
        None => Ok(line),
        Some(n) if (0..=MAX_AMOUNT as i64).contains(&n) => Ok(line.portion(n as u64, bulk_net)),
        Some(n) => Err(input(format!(
            "package {}: net_weight_mg must be an integer in 0..{MAX_AMOUNT}, got {n}",
            label()
        ))),
    }
}

fn priors_from(prior: &Bound<'_, PyList>) -> PyResult<Vec<Prior>> {
    let mut past = Vec::with_capacity(prior.len());
    for (i, item) in prior.iter().enumerate() {
        let t = tuple_of(&item, 8, "prior", i)?;
        past.push(Prior {
            at_s: t.get_borrowed_item(0)?.extract()?,
            day: t.get_borrowed_item(1)?.extract()?,
            line: line_from(t, 2, "prior", i)?,
        });
    }
    Ok(past)
}

/// A customer's prior purchases, converted once per order for `LimitRules.check_packages`.
#[pyclass(frozen, module = "edge._core")]
struct LimitHistory {
    prior: Vec<Prior>,
}

#[pymethods]
impl LimitHistory {
    /// From prior tuples (`LimitRules.check`'s `prior`).
    #[new]
    fn new(prior: &Bound<'_, PyList>) -> PyResult<Self> {
        Ok(Self {
            prior: priors_from(prior)?,
        })
    }

    fn __len__(&self) -> usize {
        self.prior.len()
    }
}

/// Hours whose UTC offset `LimitZone` remembers (direct-mapped by hour).
const ZONE_SLOTS: usize = 64;
const OFFSET_BIAS: i64 = 1 << 23;

/// The store's clock for the limit check: reads the check's ISO 8601 time to epoch seconds
/// and its store-local day without Python for the station's own time shape, asking Python
/// only for what it cannot know: the zone's UTC offset of an hour it has not seen (through
/// `offset(epoch_s) -> seconds`), and any other time shape (through `resolve(text) ->
/// (epoch_s, day ordinal)`, which raises on a bad time).
#[pyclass(frozen, module = "edge._core")]
struct LimitZone {
    resolve: Py<PyAny>,
    offset: Py<PyAny>,
    /// Per slot: (UTC hour << 24) | (offset + 2^23), 0 = empty; an hour is remembered only when
    /// its offset is the same at its first and last second (no transition inside it).
    hours: [AtomicU64; ZONE_SLOTS],
}

impl LimitZone {
    fn offset_of(&self, py: Python<'_>, at_s: i64) -> PyResult<i64> {
        self.offset.call1(py, (at_s,))?.extract(py)
    }

    fn offset_at(&self, py: Python<'_>, at_s: i64) -> PyResult<i64> {
        let hour = at_s.div_euclid(3600);
        if !(0..1_i64 << 39).contains(&hour) {
            return self.offset_of(py, at_s);
        }
        let slot = &self.hours[(hour as usize) % ZONE_SLOTS];
        let packed = slot.load(Ordering::Relaxed);
        if packed != 0 && (packed >> 24) as i64 == hour {
            return Ok((packed & 0xFF_FFFF) as i64 - OFFSET_BIAS);
        }
        let first = self.offset_of(py, hour * 3600)?;
        let last = self.offset_of(py, hour * 3600 + 3599)?;
        if first == last && (-OFFSET_BIAS..OFFSET_BIAS).contains(&first) {
            slot.store(
                ((hour as u64) << 24) | (first + OFFSET_BIAS) as u64,
                Ordering::Relaxed,
            );
            return Ok(first);
        }
        self.offset_of(py, at_s)
    }

    fn when(&self, at: &Bound<'_, PyString>) -> PyResult<(i64, i32)> {
        let py = at.py();
        if let Some(at_s) = clock::epoch_seconds(at.to_str()?) {
            let day = clock::local_day(at_s, self.offset_at(py, at_s)?);
            if let Ok(day) = i32::try_from(day) {
                return Ok((at_s, day));
            }
        }
        self.resolve.call1(py, (at,))?.extract(py)
    }
}

#[pymethods]
impl LimitZone {
    #[new]
    fn new(resolve: Py<PyAny>, offset: Py<PyAny>) -> Self {
        Self {
            resolve,
            offset,
            hours: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// (epoch seconds, store-local day ordinal) of an ISO 8601 time with offset.
    fn at(&self, at: &Bound<'_, PyString>) -> PyResult<(i64, i32)> {
        self.when(at)
    }
}

/// The cart lines of an order's picks so far, read from one inventory (held weakly: a replaced
/// inventory is freed, and its address cannot come back while this holds it), keyed by the pick
/// objects themselves. A pick is a value (the station's `Pick` is a frozen struct): the same
/// object at the same place is the same uid and portion, so it is not read again, not even its
/// attributes (two attribute reads per pick were a fifth of the check).
struct PickLines {
    inventory: Weak<CoreInventory>,
    picks: Vec<Py<PyAny>>,
    lines: Vec<Line>,
    /// The history summed per bucket for the version in force at the first scan.
    sums: Option<PriorSums>,
}

impl PickLines {
    /// The lines of `picks` (each `uid`, `net_mg`) from `inv`, reading only picks not seen at
    /// their place.
    fn update(&mut self, inv: &Arc<CoreInventory>, picks: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.inventory.as_ptr() != Arc::as_ptr(inv) {
            self.inventory = Arc::downgrade(inv);
            self.picks.clear();
            self.lines.clear();
        }
        let mut n = 0;
        for pick in picks.try_iter()? {
            let pick = pick?;
            if !self.picks.get(n).is_some_and(|seen| seen.is(&pick)) {
                self.picks.truncate(n);
                self.lines.truncate(n);
                let line = pick_line(inv, &pick)?;
                self.picks.push(pick.unbind());
                self.lines.push(line);
            }
            n += 1;
        }
        self.picks.truncate(n);
        self.lines.truncate(n);
        Ok(())
    }
}

/// `LimitOrder.verdict`'s answer: (allowed, reason, version, customer class, the result).
type VerdictParts = (
    bool,
    Py<PyString>,
    Py<PyString>,
    Py<PyString>,
    Py<LimitResult>,
);

/// One order's limit check, prepared at its first scan: the jurisdiction's rules, the store's
/// clock, the customer's class and prior purchases (converted and zone-resolved once), and the
/// cart lines of the picks seen so far (`remember`, at each scan). Each check is then one call:
/// the time, the inventory and the picks, of which only the ones not yet seen are read.
#[pyclass(frozen, module = "edge._core")]
struct LimitOrder {
    rules: Py<LimitRules>,
    zone: Py<LimitZone>,
    class: String,
    prior: Vec<Prior>,
    picks: Mutex<PickLines>,
}

impl LimitOrder {
    /// The picks' lines, `None` while held: only a pick's attribute running Python that calls
    /// back into this order can find it held (the GIL serialises everything else), and that
    /// call reads its picks without the cache rather than wait for itself.
    fn lines(&self) -> Option<MutexGuard<'_, PickLines>> {
        match self.picks.try_lock() {
            Ok(guard) => Some(guard),
            // A panic inside `update` leaves at worst a shorter, still consistent cache.
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

#[pymethods]
impl LimitOrder {
    #[new]
    fn new(
        rules: Py<LimitRules>,
        zone: Py<LimitZone>,
        customer_class: String,
        prior: &Bound<'_, PyList>,
    ) -> PyResult<Self> {
        Ok(Self {
            rules,
            zone,
            class: customer_class,
            prior: priors_from(prior)?,
            picks: Mutex::new(PickLines {
                inventory: Weak::new(),
                picks: Vec::new(),
                lines: Vec::new(),
                sums: None,
            }),
        })
    }

    fn __len__(&self) -> usize {
        self.prior.len()
    }

    /// Read the cart lines of `picks` (any iterable of objects with `uid`, `net_mg`) from
    /// `inventory` ahead of the check, so the check reads only picks added since; at the first
    /// call with a time `at`, also sum the history per bucket for the rules in force then.
    /// Raises LimitInputError as `check` would for a pick it cannot read (a bad `at` is left
    /// for the check to report).
    #[pyo3(signature = (inventory, picks, at=None))]
    fn remember(
        &self,
        inventory: &Bound<'_, Inventory>,
        picks: &Bound<'_, PyAny>,
        at: Option<&Bound<'_, PyString>>,
    ) -> PyResult<()> {
        let Some(mut ahead) = self.lines() else {
            return Ok(());
        };
        if let (None, Some(at)) = (&ahead.sums, at) {
            if let Ok((_, day)) = self.zone.get().when(at) {
                let table = &self.rules.get().table;
                ahead.sums = PriorSums::build(table, &self.class, day, &self.prior);
            }
        }
        ahead.update(&inventory.get().inner, picks)
    }

    /// Check the picks (each `uid`, `net_mg`) at `at` (ISO 8601 with offset), as
    /// `LimitRules.check_packages`. LimitInputError as there; `at` errors are the zone's.
    fn check(
        &self,
        py: Python<'_>,
        at: &Bound<'_, PyString>,
        inventory: &Bound<'_, Inventory>,
        picks: &Bound<'_, PyList>,
    ) -> PyResult<LimitResult> {
        let (at_s, day) = self.zone.get().when(at)?;
        let inv = &inventory.get().inner;
        let table = &self.rules.get().table;
        let (e, cart) = match self.lines() {
            Some(mut ahead) => {
                ahead.update(inv, picks.as_any())?;
                let sums = ahead.sums.as_ref();
                let e =
                    table.evaluate_with(&self.class, at_s, day, &ahead.lines, &self.prior, sums);
                (e, ahead.lines.clone())
            }
            None => {
                let cart = pick_lines(inv, picks)?;
                (
                    table.evaluate(&self.class, at_s, day, &cart, &self.prior),
                    cart,
                )
            }
        };
        let e = e.map_err(input_err)?;
        Ok(LimitResult {
            rules: self.rules.clone_ref(py),
            e,
            lines: cart,
        })
    }

    /// `check` and the result's `summary()` in one call: (allowed, reason, version,
    /// customer_class, result), what the station reads of every verdict.
    fn verdict(
        &self,
        py: Python<'_>,
        at: &Bound<'_, PyString>,
        inventory: &Bound<'_, Inventory>,
        picks: &Bound<'_, PyList>,
    ) -> PyResult<VerdictParts> {
        let result = self.check(py, at, inventory, picks)?;
        let (allowed, reason, version, class) = result.summary(py);
        Ok((allowed, reason, version, class, Py::new(py, result)?))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LimitRuleMember>()?;
    m.add_class::<LimitRuleBucket>()?;
    m.add_class::<LimitRuleClass>()?;
    m.add_class::<LimitRuleVersion>()?;
    m.add_class::<LimitRules>()?;
    m.add_class::<LimitResult>()?;
    m.add_class::<LimitHistory>()?;
    m.add_class::<LimitZone>()?;
    m.add_class::<LimitOrder>()?;
    m.add_class::<BucketUse>()?;
    m.add_class::<MaxMore>()?;
    m.add_class::<Crossing>()?;
    m.add("LimitRuleError", m.py().get_type::<LimitRuleError>())?;
    m.add("LimitInputError", m.py().get_type::<LimitInputError>())?;
    Ok(())
}
