//! The inventory's storage types, shared by the parsers (`json`, `stream`) and the index
//! (`Inventory`): interned strings, compact records, the parts a parser collects, and the
//! markers of absent values.

use hashbrown::HashMap;

/// Marks an absent interned string, date or measure.
pub const NONE: u32 = u32::MAX;
pub const NO_DATE: i32 = i32::MIN;
pub const NO_MEASURE: u64 = u64::MAX;

/// Interned strings: each distinct value stored once.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// The string of `id`, or None for NONE.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(|s| &**s)
    }
}

/// The integer measures of a package, in the order of `MEASURE_FIELDS`.
pub const MEASURE_FIELDS: [&str; 5] =
    ["NetWeightMg", "ThcMg", "CbdMg", "ConcentrateMg", "VolumeMl"];

/// One package, compact: interned ids (NONE when absent), day numbers (NO_DATE when absent).
#[derive(Debug, Clone)]
pub struct Record {
    pub name: u32,
    pub sku: u32,
    pub batch: u32,
    pub location: u32,
    pub category: u32,
    pub product_category: u32,
    pub package_type: u32,
    pub unit_of_measure: u32,
    pub lab_state: u32,
    pub quantity: u32,
    pub unit_thc_content: u32,
    pub packaged: i32,
    pub expires: i32,
    pub on_hold: bool,
    pub finished: bool,
    pub measures: [u64; 5],
}

/// A problem with an inventory file, in words for the person who supplied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError(pub String);

impl std::fmt::Display for InventoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Inventory parts collected while parsing.
#[derive(Debug, Default)]
pub struct Parts {
    pub labels: Vec<u8>,
    pub label_starts: Vec<u32>,
    pub records: Vec<Record>,
    pub strings: Interner,
}
