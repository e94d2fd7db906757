//! Cycle-count reconciliation: a counted set of (tag, location) against the expected inventory.

use crate::scan::inventory::{Inventory, NONE};
use std::collections::HashSet;

/// The outcome of a count. Tags are upper-cased; lists keep count order (missing: inventory order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Counted where the inventory says they are (or the inventory gives no location).
    pub matched: Vec<String>,
    /// Expected (in the counted locations, or anywhere when no scope is given) but not counted.
    pub missing: Vec<String>,
    /// Counted but not in the inventory: (tag, counted location).
    pub unexpected: Vec<(String, String)>,
    /// Counted somewhere other than the inventory location: (tag, counted, expected location).
    pub wrong_place: Vec<(String, String, String)>,
    /// Counted more than once (the first count is the one judged).
    pub duplicates: Vec<String>,
}

/// Reconcile `counted` against the packages whose location is in `scope` (all packages when None).
pub fn reconcile(
    inv: &Inventory,
    counted: &[(String, String)],
    scope: Option<&[String]>,
) -> Reconciliation {
    let mut out = Reconciliation::default();
    let mut seen = vec![false; inv.len()];
    let mut unknown_seen: HashSet<String> = HashSet::new();
    let mut dup_reported: HashSet<String> = HashSet::new();
    for (raw_tag, location) in counted {
        let tag = raw_tag.trim().to_ascii_uppercase();
        let Some(id) = inv.lookup(&tag) else {
            if unknown_seen.insert(tag.clone()) {
                out.unexpected.push((tag, location.clone()));
            } else if dup_reported.insert(tag.clone()) {
                out.duplicates.push(tag);
            }
            continue;
        };
        if std::mem::replace(&mut seen[id as usize], true) {
            if dup_reported.insert(tag.clone()) {
                out.duplicates.push(tag);
            }
            continue;
        }
        match inv.text(inv.record(id).location) {
            Some(expected) if expected != location => {
                out.wrong_place
                    .push((tag, location.clone(), expected.to_string()));
            }
            _ => out.matched.push(tag),
        }
    }
    let scope_ids: Option<HashSet<u32>> =
        scope.map(|locs| locs.iter().filter_map(|l| inv.strings.get(l)).collect());
    for id in 0..inv.len() as u32 {
        let loc = inv.record(id).location;
        let expected = match &scope_ids {
            None => true,
            Some(ids) => loc != NONE && ids.contains(&loc),
        };
        if expected && !seen[id as usize] {
            out.missing.push(inv.label(id).to_string());
        }
    }
    out
}
