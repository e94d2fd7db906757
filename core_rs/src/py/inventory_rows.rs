//! PyO3 wrapper for building the inventory index from the station replica's rows
//! (`crate::scan::inventory::from_rows`): the rows' bytes are copied into one buffer while the
//! GIL is held, then parsed and indexed with the GIL released: a full build's chunks by a
//! parser thread of its own while the caller fetches the next.

use super::scan::{Inventory, InventoryFormatError};
use crate::scan::inventory::from_rows::{RowBuilder, Skipped};
use crate::scan::inventory::{snapshot, Inventory as CoreInventory};
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Chunks queued for the parser thread beyond the one it parses: the fetch runs ahead of the
/// parse by at most this many (each 512 rows, ~200 kB, at the replica's chunk size).
const QUEUED_CHUNKS: usize = 4;

/// Rows copied out of Python: keys in one string, bodies in one buffer (None: a removal).
#[derive(Default)]
struct Rows {
    keys: String,
    key_ends: Vec<usize>,
    buf: Vec<u8>,
    spans: Vec<Option<(usize, usize)>>,
}

impl Rows {
    fn copy<'a>(rows: impl ExactSizeIterator<Item = (&'a str, Option<&'a [u8]>)> + Clone) -> Self {
        let total = rows.clone().map(|(_, b)| b.map_or(0, <[u8]>::len)).sum();
        let mut out = Rows {
            key_ends: Vec::with_capacity(rows.len()),
            buf: Vec::with_capacity(total),
            spans: Vec::with_capacity(rows.len()),
            ..Rows::default()
        };
        for (key, body) in rows {
            out.keys.push_str(key);
            out.key_ends.push(out.keys.len());
            out.spans.push(body.map(|b| {
                let start = out.buf.len();
                out.buf.extend_from_slice(b);
                (start, out.buf.len())
            }));
        }
        out
    }

    fn copy_changes(rows: &[(String, Option<Bound<'_, PyBytes>>)]) -> Self {
        Self::copy(
            rows.iter()
                .map(|(k, b)| (k.as_str(), b.as_ref().map(|b| b.as_bytes()))),
        )
    }

    fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        let starts = std::iter::once(0).chain(self.key_ends.iter().copied());
        starts
            .zip(&self.key_ends)
            .zip(&self.spans)
            .map(|((a, &b), s)| (&self.keys[a..b], s.map(|(a, b)| &self.buf[a..b])))
    }
}

/// A full build in progress: chunks go to the parser thread, which hands back its builder.
struct Parser {
    queue: SyncSender<Rows>,
    worker: JoinHandle<RowBuilder>,
    queued: usize,
}

impl Parser {
    fn start() -> PyResult<Self> {
        let (queue, chunks) = sync_channel::<Rows>(QUEUED_CHUNKS);
        let worker = std::thread::Builder::new()
            .name("inventory-rows".into())
            .spawn(move || {
                let mut builder = RowBuilder::new();
                for rows in chunks {
                    for (key, body) in rows.iter() {
                        builder.add(key, body.unwrap_or_default());
                    }
                }
                builder
            })?;
        Ok(Parser {
            queue,
            worker,
            queued: 0,
        })
    }
}

impl Parser {
    /// Queue `rows` (waiting, GIL released, while the queue is full); the rows queued so far.
    fn send(&mut self, py: Python<'_>, rows: Rows) -> PyResult<usize> {
        let n = rows.key_ends.len();
        let queue = self.queue.clone();
        py.detach(move || queue.send(rows))
            .map_err(|_| PanicException::new_err("the inventory parser thread stopped"))?;
        self.queued += n;
        Ok(self.queued)
    }
}

fn finished() -> PyErr {
    InventoryFormatError::new_err("InventoryRows already finished")
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
///
/// Each chunk is copied (one buffer, a memcpy per row) and queued for a parser thread, so the
/// caller goes back to fetching the next chunk at once: at 1 M rows the fetch (Python's
/// sqlite3, ~0.6 us a row) and the parse (~0.6 us) overlap instead of taking turns for the GIL.
#[pyclass(module = "edge._core")]
pub struct InventoryRows {
    parser: Option<Parser>,
}

#[pymethods]
impl InventoryRows {
    #[new]
    fn new() -> PyResult<Self> {
        Ok(InventoryRows {
            parser: Some(Parser::start()?),
        })
    }

    /// Queue a chunk of (key, body) rows for the parser thread; returns the rows queued so
    /// far. Waits (GIL released) while the parser is QUEUED_CHUNKS behind.
    fn add(
        &mut self,
        py: Python<'_>,
        rows: Vec<(Bound<'_, PyString>, Bound<'_, PyBytes>)>,
    ) -> PyResult<usize> {
        let parser = self.parser.as_mut().ok_or_else(finished)?;
        let views: Vec<(&str, Option<&[u8]>)> = rows
            .iter()
            .map(|(k, b)| Ok((k.to_str()?, Some(b.as_bytes()))))
            .collect::<PyResult<_>>()?;
        let copied = Rows::copy(views.into_iter());
        drop(rows);
        parser.send(py, copied)
    }

    /// `add` for rows of the body alone: a key costs a Python string per row to fetch
    /// (0.25 s of a 1 M-row build). A row left out is reported under the key "" (the caller
    /// reads the rows again with their keys to name it).
    fn add_bodies(&mut self, py: Python<'_>, rows: Vec<(Bound<'_, PyBytes>,)>) -> PyResult<usize> {
        let parser = self.parser.as_mut().ok_or_else(finished)?;
        let copied = Rows::copy(rows.iter().map(|(b,)| ("", Some(b.as_bytes()))));
        drop(rows);
        parser.send(py, copied)
    }

    fn __len__(&self) -> usize {
        self.parser.as_ref().map_or(0, |p| p.queued)
    }

    /// Index the rows: (inventory, [(key, reason) of each skipped row]).
    fn finish(&mut self, py: Python<'_>) -> PyResult<(Inventory, Vec<Skipped>)> {
        let Parser { queue, worker, .. } = self.parser.take().ok_or_else(finished)?;
        drop(queue); // the parser's loop ends with the last chunk
        let built = py.detach(move || worker.join().map(RowBuilder::finish));
        built
            .map_err(|_| PanicException::new_err("the inventory parser thread panicked"))?
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
        let copied = Rows::copy_changes(&changes);
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
        let copied = Rows::copy_changes(&changes);
        drop(changes);
        let (inner, skipped) = py
            .detach(move || {
                let (parts, skipped) = if copied.key_ends.is_empty() {
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
