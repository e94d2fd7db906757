//! PyO3 wrappers for the limits API: tuples in, tuples out (typed in edge/_core.pyi).
//!
//! `edge/limits.py` validates rule files and carts and turns the tuples into typed results;
//! tuples keep the boundary cheap enough for a 70-line check in a few microseconds.

use pyo3::create_exception;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::CoreError;
use crate::limits::rational::Ratio;
use crate::limits::rules::{BucketRule, Category, ClassRule, Member, RuleVersion, Window};
use crate::limits::{BucketUse, LimitTable, Line, Prior, Verdict};

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

type RatioIo = (i128, i128);
type MemberIn = (String, String, RatioIo);
type BucketIn = (String, String, RatioIo, String, u32, Vec<MemberIn>);
type ClassIn = (String, Vec<BucketIn>);
type VersionIn = (i32, String, Vec<ClassIn>);
type Int<'py> = Bound<'py, PyAny>;
type RatioOut<'py> = (Int<'py>, Int<'py>);
type BucketOut<'py> = (
    String,
    String,
    &'static str,
    u32,
    RatioOut<'py>,
    RatioOut<'py>,
    RatioOut<'py>,
    RatioOut<'py>,
    bool,
    String,
    String,
);
type MaxMoreOut<'py> = (&'static str, &'static str, Int<'py>, String);

fn rule_err(msg: String) -> PyErr {
    LimitRuleError::new_err(msg)
}

fn ratio_in(r: RatioIo, at: &str) -> PyResult<Ratio> {
    Ratio::new(r.0, r.1).ok_or_else(|| rule_err(format!("{at}: zero denominator")))
}

fn window_in(kind: &str, days: u32, at: &str) -> PyResult<Window> {
    match (kind, days) {
        ("transaction", _) => Ok(Window::Transaction),
        ("day", _) => Ok(Window::CalendarDay),
        ("rolling", n) if n > 0 => Ok(Window::RollingDays(n)),
        _ => Err(rule_err(format!("{at}: bad window {kind:?} {days}"))),
    }
}

fn bucket_in(b: BucketIn, at: &str) -> PyResult<BucketRule> {
    let (name, unit, cap, kind, days, members) = b;
    let at = format!("{at}: bucket {name}");
    let members = members
        .into_iter()
        .map(|(category, measure, factor)| {
            Ok(Member {
                category: category
                    .parse()
                    .map_err(|e| rule_err(format!("{at}: {e}")))?,
                measure: measure
                    .parse()
                    .map_err(|e| rule_err(format!("{at}: {e}")))?,
                factor: ratio_in(factor, &at)?,
            })
        })
        .collect::<PyResult<_>>()?;
    Ok(BucketRule {
        cap: ratio_in(cap, &at)?,
        window: window_in(&kind, days, &at)?,
        name,
        unit,
        members,
    })
}

fn version_in(code: &str, v: VersionIn) -> PyResult<RuleVersion> {
    let (effective_day, label, classes) = v;
    let classes = classes
        .into_iter()
        .map(|(name, buckets)| {
            let at = format!("{code}: version {label}: class {name}");
            let buckets = buckets
                .into_iter()
                .map(|b| bucket_in(b, &at))
                .collect::<PyResult<_>>()?;
            Ok(ClassRule { name, buckets })
        })
        .collect::<PyResult<_>>()?;
    Ok(RuleVersion {
        effective_day,
        label,
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

/// Reads `(category, quantity, net_weight_mg, concentrate_mg, thc_mg, volume_ml)` from `t`
/// starting at `first`, with borrowed items: this runs 70 times per check.
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
    })
}

fn tuple_of<'a, 'py>(
    item: &'a Bound<'py, PyAny>,
    len: usize,
    source: &str,
    index: usize,
) -> PyResult<&'a Bound<'py, PyTuple>> {
    match item.cast::<PyTuple>() {
        Ok(t) if t.len() == len => Ok(t),
        _ => Err(LimitInputError::new_err(format!(
            "{source}[{index}]: expected a tuple of {len} items"
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

fn ratio_out(py: Python<'_>, r: Ratio) -> PyResult<RatioOut<'_>> {
    Ok((int_out(py, r.num())?, int_out(py, r.den())?))
}

fn window_out(w: Window) -> (&'static str, u32) {
    match w {
        Window::Transaction => ("transaction", 0),
        Window::CalendarDay => ("day", 1),
        Window::RollingDays(n) => ("rolling", n),
    }
}

fn bucket_out<'py>(py: Python<'py>, b: &BucketUse) -> PyResult<BucketOut<'py>> {
    let (kind, days) = window_out(b.window);
    Ok((
        b.name.clone(),
        b.unit.clone(),
        kind,
        days,
        ratio_out(py, b.cap)?,
        ratio_out(py, b.prior_used)?,
        ratio_out(py, b.cart_used)?,
        ratio_out(py, b.remaining)?,
        b.over,
        b.cap_display(),
        b.remaining_display(),
    ))
}

/// A verdict computed in full by the engine; fields become Python objects when read, so a
/// caller that needs only `allowed` pays for nothing else.
#[pyclass(frozen, module = "edge._core")]
struct LimitResult {
    v: Verdict,
}

#[pymethods]
impl LimitResult {
    #[getter]
    fn allowed(&self) -> bool {
        self.v.allowed
    }

    #[getter]
    fn version(&self) -> &str {
        &self.v.version
    }

    #[getter]
    fn customer_class(&self) -> &str {
        &self.v.class
    }

    #[getter]
    fn crossing(&self) -> Option<(usize, &str)> {
        self.v
            .crossing
            .as_ref()
            .map(|c| (c.line, c.bucket.as_str()))
    }

    #[getter]
    fn buckets<'py>(&self, py: Python<'py>) -> PyResult<Vec<BucketOut<'py>>> {
        self.v.buckets.iter().map(|b| bucket_out(py, b)).collect()
    }

    #[getter]
    fn max_more<'py>(&self, py: Python<'py>) -> PyResult<Vec<MaxMoreOut<'py>>> {
        self.v
            .max_more
            .iter()
            .map(|m| {
                let amount = int_out(py, m.amount)?;
                Ok((m.category.as_str(), m.measure.as_str(), amount, m.display()))
            })
            .collect()
    }
}

/// One jurisdiction's compiled purchase-limit rules.
#[pyclass(frozen, module = "edge._core")]
struct LimitRules {
    table: LimitTable,
}

#[pymethods]
impl LimitRules {
    #[new]
    fn new(code: &str, versions: Vec<VersionIn>) -> PyResult<Self> {
        let versions: Vec<RuleVersion> = versions
            .into_iter()
            .map(|v| version_in(code, v))
            .collect::<PyResult<_>>()?;
        let table = LimitTable::new(code, &versions).map_err(|e| rule_err(e.to_string()))?;
        Ok(Self { table })
    }

    #[getter]
    fn code(&self) -> &str {
        self.table.code()
    }

    /// The effective-date label of the version in force on `day`, or None.
    fn version_at(&self, day: i32) -> Option<String> {
        self.table.version_at(day).map(str::to_owned)
    }

    /// Evaluate a cart; see edge/_core.pyi for the tuple shapes.
    fn check(
        &self,
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
        let mut past = Vec::with_capacity(prior.len());
        for (i, item) in prior.iter().enumerate() {
            let t = tuple_of(&item, 8, "prior", i)?;
            past.push(Prior {
                at_s: t.get_borrowed_item(0)?.extract()?,
                day: t.get_borrowed_item(1)?.extract()?,
                line: line_from(t, 2, "prior", i)?,
            });
        }
        let verdict = self
            .table
            .check(customer_class, at_s, day, &cart, &past)
            .map_err(|e| LimitInputError::new_err(e.to_string()))?;
        Ok(LimitResult { v: verdict })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LimitRules>()?;
    m.add_class::<LimitResult>()?;
    m.add("LimitRuleError", m.py().get_type::<LimitRuleError>())?;
    m.add("LimitInputError", m.py().get_type::<LimitInputError>())?;
    Ok(())
}
