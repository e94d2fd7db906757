//! PyO3 wrappers for the limits API: tuples in, tuples out (typed in edge/_core.pyi).
//!
//! `edge/limits.py` validates rule files and carts and turns the tuples into typed results;
//! tuples keep the boundary cheap enough for a 70-line check in a few microseconds.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;

use crate::limits::{LimitTable, Line, Prior, Verdict};
use crate::rational::Ratio;
use crate::rules::{BucketRule, Category, ClassRule, Measure, Member, RuleVersion, Window};

create_exception!(
    edge._core,
    LimitRuleError,
    PyValueError,
    "A rule model the limit engine cannot use."
);
create_exception!(
    edge._core,
    LimitInputError,
    PyValueError,
    "A cart the limit engine cannot evaluate."
);

type RatioIo = (i128, i128);
type MemberIn = (String, String, RatioIo);
type BucketIn = (String, String, RatioIo, String, u32, Vec<MemberIn>);
type ClassIn = (String, Vec<BucketIn>);
type VersionIn = (i32, String, Vec<ClassIn>);
type LineIn = (
    PyBackedStr,
    u64,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
);
type PriorIn = (
    i64,
    i32,
    PyBackedStr,
    u64,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
);
type BucketOut = (
    String,
    String,
    &'static str,
    u32,
    RatioIo,
    RatioIo,
    RatioIo,
    RatioIo,
    bool,
    String,
    String,
);
type MaxMoreOut = (&'static str, &'static str, i128, String);
type VerdictOut = (
    bool,
    String,
    String,
    Vec<BucketOut>,
    Option<(usize, String)>,
    Vec<MaxMoreOut>,
);

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

fn line_in(
    category: &str,
    quantity: u64,
    measures: [Option<u64>; 4],
    source: &str,
    index: usize,
) -> PyResult<Line> {
    let [net_weight_mg, concentrate_mg, thc_mg, volume_ml] = measures;
    Ok(Line {
        category: Some(category_in(category, source, index)?),
        quantity,
        net_weight_mg,
        concentrate_mg,
        thc_mg,
        volume_ml,
    })
}

fn ratio_out(r: Ratio) -> RatioIo {
    (r.num(), r.den())
}

fn window_out(w: Window) -> (&'static str, u32) {
    match w {
        Window::Transaction => ("transaction", 0),
        Window::CalendarDay => ("day", 1),
        Window::RollingDays(n) => ("rolling", n),
    }
}

fn measure_out(m: Measure) -> &'static str {
    m.as_str()
}

fn verdict_out(v: Verdict) -> VerdictOut {
    let buckets = v
        .buckets
        .into_iter()
        .map(|b| {
            let (kind, days) = window_out(b.window);
            (
                b.name,
                b.unit,
                kind,
                days,
                ratio_out(b.cap),
                ratio_out(b.prior_used),
                ratio_out(b.cart_used),
                ratio_out(b.remaining),
                b.over,
                b.cap_display,
                b.remaining_display,
            )
        })
        .collect();
    let max_more = v
        .max_more
        .into_iter()
        .map(|m| {
            (
                m.category.as_str(),
                measure_out(m.measure),
                m.amount,
                m.display,
            )
        })
        .collect();
    let crossing = v.crossing.map(|c| (c.line, c.bucket));
    (v.allowed, v.version, v.class, buckets, crossing, max_more)
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
        lines: Vec<LineIn>,
        prior: Vec<PriorIn>,
    ) -> PyResult<VerdictOut> {
        let lines: Vec<Line> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| line_in(&l.0, l.1, [l.2, l.3, l.4, l.5], "lines", i))
            .collect::<PyResult<_>>()?;
        let prior: Vec<Prior> = prior
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(Prior {
                    at_s: p.0,
                    day: p.1,
                    line: line_in(&p.2, p.3, [p.4, p.5, p.6, p.7], "prior", i)?,
                })
            })
            .collect::<PyResult<_>>()?;
        self.table
            .check(customer_class, at_s, day, &lines, &prior)
            .map(verdict_out)
            .map_err(|e| LimitInputError::new_err(e.to_string()))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LimitRules>()?;
    m.add("LimitRuleError", m.py().get_type::<LimitRuleError>())?;
    m.add("LimitInputError", m.py().get_type::<LimitInputError>())?;
    Ok(())
}
