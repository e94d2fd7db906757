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
    /// The id each field slot (`intern_as`) interned last: a hint, always checked.
    recent: [u32; FIELD_SLOTS],
}

/// How many fields `intern_as` keeps a hint for.
pub const FIELD_SLOTS: usize = 11;

impl Interner {
    /// `intern` for one field of a package (slot < FIELD_SLOTS). A replica in Label order
    /// repeats most fields' values from one package to the next (the same category, unit,
    /// lab state; a batch's packages are tagged in sequence), so the last value of the field
    /// is compared first: one short comparison instead of a hash and a probe.
    pub fn intern_as(&mut self, slot: usize, s: &str) -> u32 {
        let hint = self.recent[slot];
        if self.names.get(hint as usize).is_some_and(|n| **n == *s) {
            return hint;
        }
        let id = self.intern(s);
        self.recent[slot] = id;
        id
    }

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

/// One package: interned ids (NONE when absent), day numbers (NO_DATE when absent). Stored
/// packed (`Records`); `Inventory::record` gives it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What packages of one product and batch share, stored once per distinct combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Profile {
    name: u32,
    category: u32,
    product_category: u32,
    package_type: u32,
    unit_of_measure: u32,
    unit_thc_content: u32,
    lab_state: u32,
    measures: [u64; 5],
}

/// What is the package's own: 36 bytes a package instead of a whole `Record`'s 96.
#[derive(Debug, Clone, Copy)]
struct Packed {
    sku: u32,
    batch: u32,
    location: u32,
    quantity: u32,
    packaged: i32,
    expires: i32,
    profile: u32,
    flags: u8,
}

/// The packages' records, packed: each package's own fields, and an index into the distinct
/// profiles (name, categories, units, lab state, measures), which a vault repeats by product.
#[derive(Debug, Default, Clone)]
pub struct Records {
    packed: Vec<Packed>,
    profiles: Vec<Profile>,
    /// Profile -> its index, while records are added (dropped by `seal`).
    profile_ids: HashMap<Profile, u32>,
}

impl Records {
    pub fn with_capacity(n: usize) -> Self {
        Records {
            packed: Vec::with_capacity(n),
            ..Records::default()
        }
    }

    pub fn len(&self) -> usize {
        self.packed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    pub fn push(&mut self, r: &Record) {
        let packed = self.packed_of(r);
        self.packed.push(packed);
    }

    /// Replace package `i`'s record (its profile added if new).
    pub fn set(&mut self, i: usize, r: &Record) {
        self.packed[i] = self.packed_of(r);
    }

    /// The packed form of `r`, its profile looked up (or added).
    fn packed_of(&mut self, r: &Record) -> Packed {
        let profile = Profile {
            name: r.name,
            category: r.category,
            product_category: r.product_category,
            package_type: r.package_type,
            unit_of_measure: r.unit_of_measure,
            unit_thc_content: r.unit_thc_content,
            lab_state: r.lab_state,
            measures: r.measures,
        };
        if self.profile_ids.is_empty() && !self.profiles.is_empty() {
            self.reopen();
        }
        let next = self.profiles.len() as u32;
        let id = *self.profile_ids.entry(profile).or_insert(next);
        if id == next {
            self.profiles.push(profile);
        }
        Packed {
            sku: r.sku,
            batch: r.batch,
            location: r.location,
            quantity: r.quantity,
            packaged: r.packaged,
            expires: r.expires,
            profile: id,
            flags: u8::from(r.on_hold) | u8::from(r.finished) << 1,
        }
    }

    /// The profile table again after `seal`.
    fn reopen(&mut self) {
        self.profile_ids = self
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i as u32))
            .collect();
    }

    /// Done adding: drop the profile lookup and spare capacity.
    pub fn seal(&mut self) {
        self.profile_ids = HashMap::new();
        self.packed.shrink_to_fit();
        self.profiles.shrink_to_fit();
    }

    /// Package `i`'s record, whole.
    pub fn get(&self, i: usize) -> Record {
        let p = &self.packed[i];
        let f = &self.profiles[p.profile as usize];
        Record {
            name: f.name,
            sku: p.sku,
            batch: p.batch,
            location: p.location,
            category: f.category,
            product_category: f.product_category,
            package_type: f.package_type,
            unit_of_measure: f.unit_of_measure,
            lab_state: f.lab_state,
            quantity: p.quantity,
            unit_thc_content: f.unit_thc_content,
            packaged: p.packaged,
            expires: p.expires,
            on_hold: p.flags & 1 != 0,
            finished: p.flags & 2 != 0,
            measures: f.measures,
        }
    }

    pub fn sku(&self, i: usize) -> u32 {
        self.packed[i].sku
    }

    pub fn batch(&self, i: usize) -> u32 {
        self.packed[i].batch
    }

    pub fn packaged(&self, i: usize) -> i32 {
        self.packed[i].packaged
    }

    pub fn iter(&self) -> impl Iterator<Item = Record> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Heap bytes (capacity) held.
    pub fn heap_bytes(&self) -> usize {
        self.packed.capacity() * std::mem::size_of::<Packed>()
            + self.profiles.capacity() * std::mem::size_of::<Profile>()
            + self.profile_ids.capacity() * (std::mem::size_of::<Profile>() + 5)
    }
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
    pub records: Records,
    pub strings: Interner,
}
