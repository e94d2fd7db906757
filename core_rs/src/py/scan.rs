//! PyO3 wrappers for the scan API: scan recognition, the inventory index, reconciliation and
//! order verification. Conversions and error mapping only; the logic lives in `crate::scan`.
//! Bad options (a `today` that is not a date, a distance out of range) raise `CoreError`;
//! I/O errors stay `OSError`.

use super::CoreError;
use crate::civil_date;
use crate::scan::inventory::{self as inv, Inventory as CoreInventory, NONE, NO_DATE, NO_MEASURE};
use crate::scan::order::Order;
use crate::scan::retail_id::{self, Encoding};
use crate::scan::verdict::{self, FifoPolicy, Policy};
use crate::scan::{osa, reconcile, uid};
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

pyo3::create_exception!(
    edge._core,
    ScanCoreError,
    CoreError,
    "Base class of the scan core's errors (a CoreError)."
);
pyo3::create_exception!(
    edge._core,
    InventoryFormatError,
    ScanCoreError,
    "INVENTORY.json is not valid JSON or breaks docs/formats.md; the message says where."
);
pyo3::create_exception!(
    edge._core,
    OrderFormatError,
    ScanCoreError,
    "ORDER.json is not valid JSON or breaks docs/formats.md; the message says where."
);
pyo3::create_exception!(
    edge._core,
    TagPatternError,
    ScanCoreError,
    "A [scan] tag_patterns entry is not a valid regular expression."
);
pyo3::create_exception!(
    edge._core,
    RestoreError,
    ScanCoreError,
    "Journalled picks cannot be restored onto the order (unknown line, over-filled, repeated)."
);

/// How a scan was recognised.
#[pyclass(frozen, get_all, module = "edge._core")]
pub struct Recognised {
    kind: &'static str,
    symbology: Option<String>,
    text: String,
    tag: Option<String>,
    unit: Option<u64>,
    problem: Option<String>,
}

#[pymethods]
impl Recognised {
    fn __repr__(&self) -> String {
        format!(
            "Recognised(kind={:?}, text={:?}, tag={:?}, unit={:?})",
            self.kind, self.text, self.tag, self.unit
        )
    }
}

/// Scan recognition configured with `[scan] tag_patterns`.
#[pyclass(frozen, module = "edge._core")]
pub struct Recogniser {
    inner: Arc<uid::Recogniser>,
}

#[pymethods]
impl Recogniser {
    #[new]
    #[pyo3(signature = (tag_patterns=None))]
    fn new(tag_patterns: Option<Vec<String>>) -> PyResult<Self> {
        let inner = match tag_patterns {
            None => uid::Recogniser::default(),
            Some(p) => {
                uid::Recogniser::new(&p).map_err(|e| TagPatternError::new_err(e.to_string()))?
            }
        };
        Ok(Recogniser {
            inner: Arc::new(inner),
        })
    }

    #[pyo3(signature = (text, aim_id=None))]
    fn recognise(&self, text: &str, aim_id: Option<&str>) -> Recognised {
        let r = self.inner.recognise_split(text, aim_id);
        Recognised {
            kind: r.kind.as_str(),
            symbology: r.symbology,
            text: r.text,
            tag: r.tag,
            unit: r.unit,
            problem: r.problem,
        }
    }
}

/// One package of the vault inventory.
#[pyclass(frozen, get_all, module = "edge._core")]
pub struct Package {
    label: String,
    name: String,
    sku: String,
    batch: String,
    location: Option<String>,
    category: Option<String>,
    product_category: Option<String>,
    package_type: Option<String>,
    unit_of_measure: Option<String>,
    lab_testing_state: Option<String>,
    quantity: Option<String>,
    unit_thc_content: Option<String>,
    packaged_date: Option<String>,
    expiration_date: Option<String>,
    is_on_hold: bool,
    is_finished: bool,
    net_weight_mg: Option<u64>,
    thc_mg: Option<u64>,
    cbd_mg: Option<u64>,
    concentrate_mg: Option<u64>,
    volume_ml: Option<u64>,
}

#[pymethods]
impl Package {
    fn __repr__(&self) -> String {
        format!(
            "Package(label={:?}, sku={:?}, batch={:?}, name={:?})",
            self.label, self.sku, self.batch, self.name
        )
    }
}

fn package(inv: &CoreInventory, id: u32) -> Package {
    let r = inv.record(id);
    let text = |s: u32| {
        if s == NONE {
            None
        } else {
            inv.text(s).map(str::to_string)
        }
    };
    let date = |d: i32| (d != NO_DATE).then(|| civil_date::format(d));
    let m = |i: usize| (r.measures[i] != NO_MEASURE).then_some(r.measures[i]);
    Package {
        label: inv.label(id).to_string(),
        name: text(r.name).unwrap_or_default(),
        sku: text(r.sku).unwrap_or_default(),
        batch: text(r.batch).unwrap_or_default(),
        location: text(r.location),
        category: text(r.category),
        product_category: text(r.product_category),
        package_type: text(r.package_type),
        unit_of_measure: text(r.unit_of_measure),
        lab_testing_state: text(r.lab_state),
        quantity: text(r.quantity),
        unit_thc_content: text(r.unit_thc_content),
        packaged_date: date(r.packaged),
        expiration_date: date(r.expires),
        is_on_hold: r.on_hold,
        is_finished: r.finished,
        net_weight_mg: m(0),
        thc_mg: m(1),
        cbd_mg: m(2),
        concentrate_mg: m(3),
        volume_ml: m(4),
    }
}

/// The outcome of a cycle count.
#[pyclass(frozen, get_all, module = "edge._core")]
pub struct Reconciliation {
    matched: Vec<String>,
    missing: Vec<String>,
    unexpected: Vec<(String, String)>,
    wrong_place: Vec<(String, String, String)>,
    duplicates: Vec<String>,
}

/// The vault inventory index (immutable; share one between sessions).
#[pyclass(frozen, module = "edge._core")]
pub struct Inventory {
    pub(super) inner: Arc<CoreInventory>,
}

fn inventory_err(e: inv::InventoryError) -> PyErr {
    InventoryFormatError::new_err(e.0)
}

#[pymethods]
impl Inventory {
    #[staticmethod]
    fn from_json(py: Python<'_>, data: &[u8]) -> PyResult<Self> {
        let inner = py
            .detach(|| CoreInventory::from_json(data))
            .map_err(inventory_err)?;
        Ok(Inventory {
            inner: Arc::new(inner),
        })
    }

    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let file = std::fs::File::open(&path)?;
        let inner = py
            .detach(|| CoreInventory::from_reader(file))
            .map_err(|e| InventoryFormatError::new_err(format!("{}: {}", path.display(), e.0)))?;
        Ok(Inventory {
            inner: Arc::new(inner),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, tag: &str) -> bool {
        self.inner.lookup(tag).is_some()
    }

    fn lookup(&self, tag: &str) -> Option<Package> {
        self.inner.lookup(tag).map(|id| package(&self.inner, id))
    }

    #[pyo3(signature = (tag, max_distance=2, limit=Some(10)), text_signature = "(self, tag, max_distance=2, limit=10)")]
    fn near(
        &self,
        tag: &str,
        max_distance: u8,
        limit: Option<usize>,
    ) -> PyResult<Vec<(String, u8)>> {
        if max_distance > 4 {
            return Err(CoreError::new_err("max_distance must be 0..4"));
        }
        let hits = self.inner.near(tag, max_distance, limit);
        Ok(hits
            .iter()
            .map(|h| (self.inner.label(h.id).to_string(), h.distance))
            .collect())
    }

    #[pyo3(signature = (counted, locations=None))]
    fn reconcile(
        &self,
        counted: Vec<(String, String)>,
        locations: Option<Vec<String>>,
    ) -> Reconciliation {
        let r = reconcile::reconcile(&self.inner, &counted, locations.as_deref());
        Reconciliation {
            matched: r.matched,
            missing: r.missing,
            unexpected: r.unexpected,
            wrong_place: r.wrong_place,
            duplicates: r.duplicates,
        }
    }

    fn labels(&self) -> Vec<String> {
        (0..self.inner.len() as u32)
            .map(|id| self.inner.label(id).to_string())
            .collect()
    }

    #[getter]
    fn heap_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }
}

/// One scan's verdict.
#[pyclass(frozen, get_all, module = "edge._core")]
pub struct Verdict {
    scan: String,
    verdict: &'static str,
    line: Option<u32>,
    reason: String,
    candidates: Vec<String>,
    kind: &'static str,
    tag: Option<String>,
    unit: Option<u64>,
    accepted: bool,
}

#[pymethods]
impl Verdict {
    fn __repr__(&self) -> String {
        format!(
            "Verdict(verdict={:?}, line={:?}, scan={:?})",
            self.verdict, self.line, self.scan
        )
    }
}

fn verdict(v: verdict::Verdict) -> Verdict {
    Verdict {
        scan: v.scan,
        verdict: v.verdict.as_str(),
        line: v.line,
        reason: v.reason,
        candidates: v.candidates,
        kind: v.kind.as_str(),
        tag: v.tag,
        unit: v.unit,
        accepted: v.accepted,
    }
}

/// Verification of one order's scans, keeping what was accepted.
#[pyclass(module = "edge._core")]
pub struct OrderCheck {
    inner: verdict::OrderCheck,
}

#[pymethods]
impl OrderCheck {
    #[new]
    #[pyo3(signature = (order_json, inventory, today, *, recogniser=None, fifo="warn", near_distance=2, candidates=5, lab_passed=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        order_json: &[u8],
        inventory: &Inventory,
        today: &str,
        recogniser: Option<&Recogniser>,
        fifo: &str,
        near_distance: u8,
        candidates: usize,
        lab_passed: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let order = Order::from_json(order_json).map_err(|e| OrderFormatError::new_err(e.0))?;
        let today = civil_date::parse(today)
            .filter(|_| today.len() == 10)
            .ok_or_else(|| {
                CoreError::new_err(format!("today must be YYYY-MM-DD, got {today:?}"))
            })?;
        let fifo = match fifo {
            "warn" => FifoPolicy::Warn,
            "refuse" => FifoPolicy::Refuse,
            "off" => FifoPolicy::Off,
            other => {
                return Err(CoreError::new_err(format!(
                    "fifo must be warn, refuse or off, got {other:?}"
                )))
            }
        };
        if near_distance > 4 {
            return Err(CoreError::new_err("near_distance must be 0..4"));
        }
        let mut policy = Policy {
            fifo,
            near_distance,
            candidates,
            ..Policy::default()
        };
        if let Some(states) = lab_passed {
            policy.lab_passed = states;
        }
        let recogniser = recogniser.map_or_else(
            || Arc::new(uid::Recogniser::default()),
            |r| Arc::clone(&r.inner),
        );
        let inner = verdict::OrderCheck::new(
            order,
            Arc::clone(&inventory.inner),
            recogniser,
            today,
            policy,
        )
        .map_err(|e| RestoreError::new_err(e.0))?;
        Ok(OrderCheck { inner })
    }

    #[pyo3(signature = (text, aim_id=None))]
    fn scan(&mut self, text: &str, aim_id: Option<&str>) -> Verdict {
        verdict(self.inner.scan_split(text, aim_id))
    }

    /// `scan`, answered as (verdict, reason, line, tag, candidates, kind, unit, accepted): one
    /// tuple built once, where reading a `Verdict`'s fields builds each on every read (the
    /// station reads them all, 1.5 us a scan).
    #[pyo3(signature = (text, aim_id=None))]
    #[allow(clippy::type_complexity)]
    fn scan_parts(
        &mut self,
        text: &str,
        aim_id: Option<&str>,
    ) -> (
        &'static str,
        String,
        Option<u32>,
        Option<String>,
        Vec<String>,
        &'static str,
        Option<u64>,
        bool,
    ) {
        let v = self.inner.scan_split(text, aim_id);
        (
            v.verdict.as_str(),
            v.reason,
            v.line,
            v.tag,
            v.candidates,
            v.kind.as_str(),
            v.unit,
            v.accepted,
        )
    }

    fn replay(&mut self, scans: Vec<String>) -> Vec<Verdict> {
        scans.iter().map(|s| verdict(self.inner.scan(s))).collect()
    }

    fn restore(&mut self, picks: Vec<(String, u32)>) -> PyResult<()> {
        self.inner
            .restore(&picks)
            .map_err(|e| RestoreError::new_err(e.0))
    }

    fn progress(&self) -> Vec<(u32, u32, Vec<String>)> {
        self.inner.progress()
    }

    fn picks(&self) -> Vec<(String, String, Option<u64>, u32)> {
        self.inner
            .picks()
            .iter()
            .map(|p| (p.scan.clone(), p.tag.clone(), p.unit, p.line))
            .collect()
    }

    #[getter]
    fn complete(&self) -> bool {
        self.inner.is_complete()
    }

    #[getter]
    fn order_id(&self) -> String {
        self.inner.order().order_id.clone()
    }
}

/// The Retail ID URL of unit `unit` of package `tag`; base 36 (upper case) or base 64.
#[pyfunction]
#[pyo3(signature = (tag, unit, base36=true))]
fn retail_id_url(tag: &str, unit: u64, base36: bool) -> PyResult<String> {
    let enc = if base36 {
        Encoding::Base36
    } else {
        Encoding::Base64
    };
    retail_id::encode_url(&tag.to_ascii_uppercase(), unit, enc).map_err(CoreError::new_err)
}

/// Optimal-string-alignment distance of two tags (ASCII bytes).
#[pyfunction]
fn osa_distance(a: &str, b: &str) -> usize {
    osa::distance(a.as_bytes(), b.as_bytes())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ScanCoreError", py.get_type::<ScanCoreError>())?;
    m.add(
        "InventoryFormatError",
        py.get_type::<InventoryFormatError>(),
    )?;
    m.add("OrderFormatError", py.get_type::<OrderFormatError>())?;
    m.add("TagPatternError", py.get_type::<TagPatternError>())?;
    m.add("RestoreError", py.get_type::<RestoreError>())?;
    m.add_class::<Recognised>()?;
    m.add_class::<Recogniser>()?;
    m.add_class::<Package>()?;
    m.add_class::<Reconciliation>()?;
    m.add_class::<Inventory>()?;
    m.add_class::<Verdict>()?;
    m.add_class::<OrderCheck>()?;
    m.add_function(wrap_pyfunction!(retail_id_url, m)?)?;
    m.add_function(wrap_pyfunction!(osa_distance, m)?)?;
    Ok(())
}
