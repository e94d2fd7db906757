//! The vault inventory: packages from an INVENTORY.json snapshot (docs/formats.md), with exact
//! lookup by tag, near-miss search and per-SKU FIFO order.
//!
//! Storage is compact because a large vault holds a million packages: strings that repeat
//! (SKU, batch, name, location, states) are interned to u32 ids, dates are day numbers, labels
//! live in one byte arena, and the tag table holds only u32 package ids. METRC's decimal figures
//! (`Quantity`, `Item.UnitThcContent`) are kept as their exact JSON text: no rule reads them, and
//! they are never turned into floats.

mod fast;
pub mod from_rows;
pub mod json;
mod parts;
pub mod snapshot;
pub mod stream;

pub use parts::{
    Interner, InventoryError, Parts, Record, Records, MEASURE_FIELDS, NONE, NO_DATE, NO_MEASURE,
};

use crate::scan::tag_index::{Hit, TagIndex};
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// The vault inventory index.
#[derive(Debug)]
pub struct Inventory {
    labels: Vec<u8>,
    label_starts: Vec<u32>,
    records: Records,
    pub strings: Interner,
    by_label: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// The vault-wide near-miss index, built on the first `near` call: the station's verdicts
    /// search only the tags an order can accept (`verdict`), so a start-up does not pay for it.
    tags: OnceLock<TagIndex>,
    /// Package ids grouped by SKU, each group oldest `PackagedDate` first (undated last).
    fifo: Vec<u32>,
    fifo_ranges: HashMap<u32, (u32, u32)>,
}

impl Inventory {
    /// Parse INVENTORY.json (an array of packages or METRC's `{"Data": [...]}`).
    pub fn from_json(bytes: &[u8]) -> Result<Self, InventoryError> {
        Self::build(json::parse_slice(bytes)?)
    }

    /// Parse INVENTORY.json from a reader without holding the whole file in memory.
    pub fn from_reader(reader: impl std::io::Read) -> Result<Self, InventoryError> {
        Self::build(stream::parse_reader(reader)?)
    }

    /// Index parsed parts: the tag table (duplicate labels are an error), near-miss index, FIFO.
    pub fn build(parts: Parts) -> Result<Self, InventoryError> {
        let n = parts.records.len();
        let mut records = parts.records;
        records.seal();
        // A build from rows grows these by doubling: the index kept for the whole day should
        // not carry up to half again of spare capacity (about 0.8 MB at 100 k packages).
        let (mut labels, mut label_starts) = (parts.labels, parts.label_starts);
        labels.shrink_to_fit();
        label_starts.shrink_to_fit();
        let mut inv = Inventory {
            labels,
            label_starts,
            records,
            strings: parts.strings,
            by_label: HashTable::with_capacity(n),
            hasher: DefaultHashBuilder::default(),
            tags: OnceLock::new(),
            fifo: Vec::new(),
            fifo_ranges: HashMap::default(),
        };
        let (labels, starts, hasher) = (&inv.labels, &inv.label_starts, &inv.hasher);
        let at = |i: u32| &labels[starts[i as usize] as usize..starts[i as usize + 1] as usize];
        for id in 0..n as u32 {
            let label = at(id);
            let hash = hasher.hash_one(label);
            match inv
                .by_label
                .entry(hash, |&o| at(o) == label, |&o| hasher.hash_one(at(o)))
            {
                hashbrown::hash_table::Entry::Occupied(o) => {
                    return Err(InventoryError(format!(
                        "duplicate Label {}: packages #{} and #{}",
                        String::from_utf8_lossy(label),
                        o.get() + 1,
                        id + 1
                    )));
                }
                hashbrown::hash_table::Entry::Vacant(v) => {
                    v.insert(id);
                }
            }
        }
        inv.build_fifo();
        Ok(inv)
    }

    /// This index with some packages' records replaced and their labels unchanged: the tag
    /// table is copied, not rebuilt, and the FIFO order is rebuilt only when `fifo_moved` (a
    /// replaced record changed its SKU or packaged date). The vault-wide near-miss index is
    /// left to be built again on its first use.
    pub(crate) fn with_records(
        &self,
        mut records: Records,
        strings: Interner,
        fifo_moved: bool,
    ) -> Self {
        records.seal();
        let mut inv = Inventory {
            labels: self.labels.clone(),
            label_starts: self.label_starts.clone(),
            records,
            strings,
            by_label: self.by_label.clone(),
            hasher: self.hasher,
            tags: OnceLock::new(),
            fifo: Vec::new(),
            fifo_ranges: HashMap::default(),
        };
        if fifo_moved {
            inv.build_fifo();
        } else {
            inv.fifo = self.fifo.clone();
            inv.fifo_ranges = self.fifo_ranges.clone();
        }
        inv
    }

    fn build_fifo(&mut self) {
        let mut ids: Vec<u32> = (0..self.records.len() as u32).collect();
        let records = &self.records;
        let key = |id: &u32| {
            let i = *id as usize;
            let date = match records.packaged(i) {
                NO_DATE => i32::MAX,
                d => d,
            };
            (records.sku(i), date, *id)
        };
        ids.sort_unstable_by_key(key);
        let mut start = 0;
        while start < ids.len() {
            let sku = self.records.sku(ids[start] as usize);
            let mut end = start;
            while end < ids.len() && self.records.sku(ids[end] as usize) == sku {
                end += 1;
            }
            self.fifo_ranges.insert(sku, (start as u32, end as u32));
            start = end;
        }
        self.fifo = ids;
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Approximate heap bytes of the index (for the benchmark's report).
    pub fn heap_bytes(&self) -> usize {
        self.labels.capacity()
            + 4 * self.label_starts.capacity()
            + self.records.heap_bytes()
            + self.by_label.capacity() * 5
            + self.tags.get().map_or(0, TagIndex::heap_bytes)
            + 4 * self.fifo.capacity()
            + self.fifo_ranges.capacity() * 13
    }

    pub fn label_bytes(&self, id: u32) -> &[u8] {
        let i = id as usize;
        &self.labels[self.label_starts[i] as usize..self.label_starts[i + 1] as usize]
    }

    /// The tag of package `id` (labels are ASCII: upper-cased at load).
    pub fn label(&self, id: u32) -> &str {
        std::str::from_utf8(self.label_bytes(id)).unwrap_or("")
    }

    /// Package `id`'s record (assembled from the packed store: a copy).
    pub fn record(&self, id: u32) -> Record {
        self.records.get(id as usize)
    }

    /// The interned SKU of package `id` (without assembling its record).
    pub fn sku_of(&self, id: u32) -> u32 {
        self.records.sku(id as usize)
    }

    /// The interned batch of package `id`.
    pub fn batch_of(&self, id: u32) -> u32 {
        self.records.batch(id as usize)
    }

    /// The string behind an interned id (None for NONE).
    pub fn text(&self, id: u32) -> Option<&str> {
        self.strings.name(id)
    }

    /// Exact lookup of a tag (compared upper-cased, as labels are stored).
    pub fn lookup(&self, tag: &str) -> Option<u32> {
        let upper;
        let tag = if tag.bytes().any(|c| c.is_ascii_lowercase()) {
            upper = tag.to_ascii_uppercase();
            upper.as_str()
        } else {
            tag
        };
        let hash = self.hasher.hash_one(tag.as_bytes());
        self.by_label
            .find(hash, |&id| self.label_bytes(id) == tag.as_bytes())
            .copied()
    }

    /// Tags within OSA distance `max_distance` of `tag`, nearest first (ties in tag order).
    pub fn near(&self, tag: &str, max_distance: u8, limit: Option<usize>) -> Vec<Hit> {
        let upper = tag.to_ascii_uppercase();
        let tags = self.tags.get_or_init(|| {
            TagIndex::build((0..self.len() as u32).map(|id| (id, self.label_bytes(id))))
        });
        tags.nearest(upper.as_bytes(), max_distance, limit)
    }

    /// Packages of `sku` (an interned id), oldest PackagedDate first, undated last.
    pub fn fifo_of(&self, sku: u32) -> &[u32] {
        match self.fifo_ranges.get(&sku) {
            Some(&(a, b)) => &self.fifo[a as usize..b as usize],
            None => &[],
        }
    }

    /// Whether a package is finished or empty (METRC `IsFinished`, or a zero `Quantity`).
    pub fn is_depleted(&self, id: u32) -> bool {
        let r = self.record(id);
        r.finished
            || self
                .text(r.quantity)
                .is_some_and(|q| q.bytes().all(|c| matches!(c, b'0' | b'.' | b'-')))
    }
}
