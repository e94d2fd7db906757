//! PyO3 wrapper for building the inventory index from the station replica's rows
//! (`crate::scan::inventory::from_rows`): the rows' bytes are copied into one buffer while the
//! GIL is held, then parsed and indexed with the GIL released.

use super::scan::{Inventory, InventoryFormatError};
use crate::scan::inventory::from_rows::{RowBuilder, Skipped};
use crate::scan::inventory::{snapshot, Inventory as CoreInventory};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Rows copied out of Python: keys, bodies in one buffer (None: a removal).
struct Rows {
    keys: Vec<String>,
    buf: Vec<u8>,
    spans: Vec<Option<(usize, usize)>>,
}

impl Rows {
    fn copy(rows: &[(String, Option<Bound<'_, PyBytes>>)]) -> Self {
        let total = rows
            .iter()
            .map(|(_, b)| b.as_ref().map_or(0, |b| b.as_bytes().len()))
            .sum();
        let mut out = Rows {
            keys: Vec::with_capacity(rows.len()),
            buf: Vec::with_capacity(total),
            spans: Vec::with_capacity(rows.len()),
        };
        for (key, body) in rows {
            out.keys.push(key.clone());
            out.spans.push(body.as_ref().map(|b| {
                let start = out.buf.len();
                out.buf.extend_from_slice(b.as_bytes());
                (start, out.buf.len())
            }));
        }
        out
    }

    fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.keys
            .iter()
            .zip(&self.spans)
            .map(|(k, s)| (k.as_str(), s.map(|(a, b)| &self.buf[a..b])))
    }
}

fn wrap(result: (CoreInventory, Vec<Skipped>)) -> (Inventory, Vec<Skipped>) {
    let (inner, skipped) = result;
    (
        Inventory {
            inner: Arc::new(inner),
        },
        skipped,
    )
}

/// What `load` gives: the index, the snapshot's tag, the changed rows left out.
type Loaded = (Inventory, Vec<u8>, Vec<Skipped>);

/// Builds an Inventory from replica rows, chunk by chunk (see edge/_core.pyi).
#[pyclass(module = "edge._core")]
pub struct InventoryRows {
    builder: Option<RowBuilder>,
}

#[pymethods]
impl InventoryRows {
    #[new]
    fn new() -> Self {
        InventoryRows {
            builder: Some(RowBuilder::new()),
        }
    }

    /// Parse a chunk of (key, body) rows; returns how many were indexed. The rows are read
    /// where Python keeps them (bytes are immutable and held by `rows` for the call), so
    /// nothing is copied or allocated per row before the parse, which runs with the GIL
    /// released.
    fn add(
        &mut self,
        py: Python<'_>,
        rows: Vec<(Bound<'_, PyString>, Bound<'_, PyBytes>)>,
    ) -> PyResult<usize> {
        let Some(builder) = self.builder.as_mut() else {
            return Err(InventoryFormatError::new_err(
                "InventoryRows already finished",
            ));
        };
        let views: Vec<(&str, &[u8])> = rows
            .iter()
            .map(|(k, b)| Ok((k.to_str()?, b.as_bytes())))
            .collect::<PyResult<_>>()?;
        Ok(py.detach(|| {
            views
                .iter()
                .filter(|(key, body)| builder.add(key, body))
                .count()
        }))
    }

    fn __len__(&self) -> usize {
        self.builder.as_ref().map_or(0, RowBuilder::len)
    }

    /// Index the rows: (inventory, [(key, reason) of each skipped row]).
    fn finish(&mut self, py: Python<'_>) -> PyResult<(Inventory, Vec<Skipped>)> {
        let Some(builder) = self.builder.take() else {
            return Err(InventoryFormatError::new_err(
                "InventoryRows already finished",
            ));
        };
        py.detach(|| builder.finish())
            .map(wrap)
            .map_err(|e| InventoryFormatError::new_err(e.0))
    }

    /// `base` after feed changes ((key, body) adds or replaces, (key, None) removes).
    #[staticmethod]
    fn changed(
        py: Python<'_>,
        base: &Inventory,
        changes: Vec<(String, Option<Bound<'_, PyBytes>>)>,
    ) -> PyResult<(Inventory, Vec<Skipped>)> {
        let copied = Rows::copy(&changes);
        drop(changes);
        let base = Arc::clone(&base.inner);
        py.detach(|| RowBuilder::changed(&base, copied.iter()))
            .map(wrap)
            .map_err(|e| InventoryFormatError::new_err(e.0))
    }

    /// Write a binary snapshot of `inventory` tagged `tag` (atomically: a temporary file, fsync,
    /// rename), GIL released.
    #[staticmethod]
    fn save(py: Python<'_>, inventory: &Inventory, path: PathBuf, tag: &[u8]) -> PyResult<()> {
        let inner = Arc::clone(&inventory.inner);
        let tag = tag.to_vec();
        py.detach(|| -> std::io::Result<()> {
            let bytes = snapshot::encode(&inner, &tag);
            let tmp = path.with_extension("tmp");
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)
        })?;
        Ok(())
    }

    /// (inventory, tag) from a snapshot `save` wrote, with the changes `changes_for(tag)`
    /// returns applied before the index is built (None from it: the snapshot is not used, and
    /// None is returned); OSError if unreadable, InventoryFormatError if it is not intact.
    #[staticmethod]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        changes_for: Bound<'_, PyAny>,
    ) -> PyResult<Option<Loaded>> {
        let named = |e: crate::scan::inventory::InventoryError| {
            InventoryFormatError::new_err(format!("{}: {}", path.display(), e.0))
        };
        let (parts, tag) = py.detach(|| snapshot::read_parts(&path))?.map_err(named)?;
        let changes: Option<Vec<(String, Option<Bound<'_, PyBytes>>)>> =
            changes_for.call1((PyBytes::new(py, &tag),))?.extract()?;
        let Some(changes) = changes else {
            return Ok(None);
        };
        let copied = Rows::copy(&changes);
        drop(changes);
        let (inner, skipped) = py
            .detach(move || {
                let (parts, skipped) = if copied.keys.is_empty() {
                    (parts, Vec::new())
                } else {
                    RowBuilder::changed_owned(parts, copied.iter())
                };
                Ok((CoreInventory::build(parts)?, skipped))
            })
            .map_err(named)?;
        Ok(Some((
            Inventory {
                inner: Arc::new(inner),
            },
            tag,
            skipped,
        )))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<InventoryRows>()
}
