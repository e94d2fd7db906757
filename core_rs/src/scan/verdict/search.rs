//! Which packages an order line can take: line matching, sellability, FIFO order, candidates
//! for the slip and the near-miss search among what the order still needs.

use super::{OrderCheck, Resolved, VerdictKind};
use crate::civil_date;
use crate::scan::inventory::{NONE, NO_DATE};
use crate::scan::order::Want;
use crate::scan::osa;

impl OrderCheck {
    /// Lines that name a package beat lines with a fixed batch beat lines with only a SKU.
    pub(super) fn specificity(&self, li: usize) -> u8 {
        match &self.order.lines[li].want {
            Want::Uid(_) => 0,
            Want::Sku { batch: Some(_), .. } => 1,
            Want::Sku { batch: None, .. } => 2,
        }
    }

    pub(super) fn accepts(&self, li: usize, id: u32) -> bool {
        let rec = self.inventory.record(id);
        match (&self.order.lines[li].want, self.resolved[li]) {
            (Want::Uid(u), _) => self.inventory.label(id) == u,
            (
                _,
                Resolved::Sku {
                    sku: Some(s),
                    batch,
                },
            ) => s == rec.sku && batch.map_or(true, |b| b == Some(rec.batch)),
            _ => false,
        }
    }

    /// Why a package may not be sold today, if it may not.
    pub(super) fn unsellable(&self, id: u32) -> Option<(VerdictKind, String)> {
        let inv = &self.inventory;
        let rec = inv.record(id);
        if rec.on_hold {
            return Some((
                VerdictKind::OnHold,
                "On hold in METRC, not for sale: put it in the hold bin and tell a supervisor."
                    .into(),
            ));
        }
        if rec.expires != NO_DATE && rec.expires < self.today {
            return Some((
                VerdictKind::Expired,
                format!(
                    "Expired on {}: do not sell it; put it in the hold bin and pick another package.",
                    civil_date::format(rec.expires)
                ),
            ));
        }
        if rec.lab_state != NONE {
            let state = inv.text(rec.lab_state).unwrap_or("");
            if !self.policy.lab_passed.iter().any(|s| s == state) {
                return Some((
                    VerdictKind::NotTested,
                    format!("Lab testing state is {state}, not passed: do not sell it; put it in the hold bin."),
                ));
            }
        }
        None
    }

    pub(super) fn sellable_spare(&self, id: u32) -> bool {
        self.unsellable(id).is_none()
            && !self.inventory.is_depleted(id)
            && !self.picks.iter().any(|p| p.tag == self.inventory.label(id))
    }

    /// The oldest sellable, unpicked package for line `li` packed before package `id`.
    pub(super) fn older(&self, li: usize, id: u32) -> Option<u32> {
        let inv = &self.inventory;
        let rec = inv.record(id);
        if rec.packaged == NO_DATE {
            return None;
        }
        inv.fifo_of(rec.sku)
            .iter()
            .copied()
            .take_while(|&p| {
                inv.record(p).packaged != NO_DATE && inv.record(p).packaged < rec.packaged
            })
            .find(|&p| self.accepts(li, p) && self.sellable_spare(p))
    }

    /// Up to `n` sellable, unpicked packages that line `li` would accept, oldest first.
    pub(super) fn eligible(&self, li: usize, n: usize) -> Vec<String> {
        let Resolved::Sku { sku: Some(sku), .. } = self.resolved[li] else {
            return Vec::new();
        };
        let inv = &self.inventory;
        inv.fifo_of(sku)
            .iter()
            .copied()
            .filter(|&p| self.accepts(li, p) && self.sellable_spare(p))
            .take(n)
            .map(|p| inv.label(p).to_string())
            .collect()
    }

    /// Tags an open line would accept within the near-miss distance of `text`:
    /// (distance, line kind, tag, line number), nearest first.
    pub(super) fn near_expected(&self, text: &str) -> Vec<(u8, u8, String, u32)> {
        let k = self.policy.near_distance;
        if k == 0 {
            return Vec::new();
        }
        let inv = &self.inventory;
        let open = |li: &usize| self.filled[*li] < self.order.lines[*li].quantity;
        let mut found: Vec<(u8, u8, String, u32)> = Vec::new();
        for hit in inv.near(text, k, None) {
            let tag = inv.label(hit.id);
            if hit.distance == 0 || self.picks.iter().any(|p| p.tag == tag) {
                continue;
            }
            let best = (0..self.order.lines.len())
                .filter(open)
                .filter(|&li| self.accepts(li, hit.id))
                .min_by_key(|&li| (self.specificity(li), li));
            if let Some(li) = best {
                found.push((
                    hit.distance,
                    self.specificity(li),
                    tag.to_string(),
                    self.order.lines[li].line,
                ));
            }
        }
        let upper = text.to_ascii_uppercase();
        for (li, line) in self.order.lines.iter().enumerate() {
            if let Want::Uid(u) = &line.want {
                let d = osa::distance(u.as_bytes(), upper.as_bytes());
                if open(&li) && inv.lookup(u).is_none() && d > 0 && d <= usize::from(k) {
                    found.push((d as u8, 0, u.clone(), line.line));
                }
            }
        }
        found.sort();
        found.dedup_by(|a, b| a.2 == b.2);
        found.truncate(self.policy.candidates);
        found
    }
}
