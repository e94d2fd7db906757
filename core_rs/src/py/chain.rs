//! PyO3 wrapper for the journal's hash chain (`crate::chain`): central's batch re-check of the
//! events it receives. Each event's fields are borrowed from its Python objects (bytes and str
//! are immutable, and the objects are held for the call), then hashed with the GIL released.

use crate::chain::Link;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// The fields of one event, held while its borrowed [`Link`] is hashed.
struct Held<'py> {
    seq: u64,
    event_id: Bound<'py, PyString>,
    type_: Bound<'py, PyString>,
    at: Bound<'py, PyString>,
    body: Bound<'py, PyBytes>,
    prev_hash: Bound<'py, PyBytes>,
}

impl<'py> Held<'py> {
    /// None when a field is not what the wire decoder makes of it (then Python decides).
    fn read(event: &Bound<'py, PyAny>) -> Option<Self> {
        let py = event.py();
        let text = |name: &Bound<'py, PyString>| -> Option<Bound<'py, PyString>> {
            event.getattr(name).ok()?.cast_into::<PyString>().ok()
        };
        let raw = |name: &Bound<'py, PyString>| -> Option<Bound<'py, PyBytes>> {
            event.getattr(name).ok()?.cast_into::<PyBytes>().ok()
        };
        Some(Held {
            seq: event
                .getattr(intern!(py, "seq"))
                .ok()?
                .extract::<u64>()
                .ok()?,
            event_id: text(intern!(py, "event_id"))?,
            type_: text(intern!(py, "type"))?,
            at: text(intern!(py, "at"))?,
            body: raw(intern!(py, "body"))?,
            prev_hash: raw(intern!(py, "prev_hash"))?,
        })
    }

    fn link(&self) -> Option<Link<'_>> {
        Some(Link {
            seq: self.seq,
            event_id: self.event_id.to_str().ok()?,
            type_: self.type_.to_str().ok()?,
            at: self.at.to_str().ok()?,
            body: self.body.as_bytes(),
            prev_hash: self.prev_hash.as_bytes(),
        })
    }
}

/// Each event's hash recomputed from its own fields (see edge/_core.pyi), GIL released.
#[pyfunction]
fn chain_hashes<'py>(
    py: Python<'py>,
    events: Vec<Bound<'py, PyAny>>,
) -> Vec<Option<Bound<'py, PyBytes>>> {
    let held: Vec<Option<Held<'py>>> = events.iter().map(Held::read).collect();
    let links: Vec<Option<Link<'_>>> = held
        .iter()
        .map(|h| h.as_ref().and_then(Held::link))
        .collect();
    let digests: Vec<Option<[u8; 32]>> = py.detach(|| {
        links
            .iter()
            .map(|l| l.as_ref().and_then(Link::recompute))
            .collect()
    });
    digests
        .into_iter()
        .map(|d| d.map(|d| PyBytes::new(py, &d)))
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(chain_hashes, m)?)?;
    Ok(())
}
