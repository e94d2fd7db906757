//! Which packages an order line can take: line matching, sellability, FIFO order, candidates
//! for the slip and the near-miss search among what the order still needs.

use super::{OrderCheck, Resolved, VerdictKind};
use crate::civil_date;
use crate::scan::inventory::{NONE, NO_DATE};
use crate::scan::order::Want;
use crate::scan::osa;
use crate::scan::tag_index::TagIndex;

/// Up to this many packages over the open SKU lines' SKUs, they are compared one by one; above,
/// the trie is walked.
const SMALL_SKU_PACKAGES: usize = 16;

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
        let inv = &self.inventory;
        match (&self.order.lines[li].want, self.resolved[li]) {
            (Want::Uid(u), _) => inv.label_bytes(id) == u.as_bytes(),
            (
                _,
                Resolved::Sku {
                    sku: Some(s),
                    batch,
                },
            ) => s == inv.sku_of(id) && batch.map_or(true, |b| b == Some(inv.batch_of(id))),
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
    /// (distance, line kind, tag, line number), nearest first, then by line kind and tag; at most
    /// `policy.candidates` of them.
    ///
    /// Only what the order can accept is searched. A UID line's tag is compared with the scan
    /// directly (bit-vector, allocation-free OSA). SKU lines take the tags of their SKU: a small
    /// SKU by comparing each of its packages, a large one by one trie walk whose leaves must pass
    /// the lines' acceptance test; once the candidates at distance 1 fill the list, the walk
    /// goes on at distance 1.
    pub(super) fn near_expected(&self, text: &str) -> Vec<(u8, u8, String, u32)> {
        let k = self.policy.near_distance;
        if k == 0 || self.policy.candidates == 0 {
            return Vec::new();
        }
        let inv = &self.inventory;
        let lines = &self.order.lines;
        let open = |li: usize| self.filled[li] < lines[li].quantity;
        let upper = text.to_ascii_uppercase();
        let query = upper.as_bytes();
        let picked = |tag: &str| self.picks.iter().any(|p| p.tag == tag);
        let mut found: Vec<(u8, u8, String, u32)> = Vec::new();
        let mut sku_lines = 0_usize; // packages of the open SKU lines' SKUs
        for (li, line) in lines.iter().enumerate() {
            if !open(li) {
                continue;
            }
            let u = match &line.want {
                Want::Uid(u) => u,
                Want::Sku { .. } => {
                    if let Resolved::Sku { sku: Some(sku), .. } = self.resolved[li] {
                        sku_lines += inv.fifo_of(sku).len();
                    }
                    continue;
                }
            };
            let Some(d) = osa::within(u.as_bytes(), query, k).filter(|&d| d > 0) else {
                continue;
            };
            let best = match inv.lookup(u) {
                // the package's best line is the first open line naming it
                Some(_) => !picked(u) && !self.uid_line_before(li, u),
                None => true,
            };
            if best {
                found.push((d, 0, u.clone(), line.line));
            }
        }
        if sku_lines > 0 {
            self.near_sku(query, k, sku_lines, &mut found);
        }
        found.sort();
        found.dedup_by(|a, b| a.2 == b.2);
        found.truncate(self.policy.candidates);
        found
    }

    /// Whether an open line before `li` names the package `u`.
    fn uid_line_before(&self, li: usize, u: &str) -> bool {
        let lines = &self.order.lines;
        (0..li).any(|l| {
            self.filled[l] < lines[l].quantity && matches!(&lines[l].want, Want::Uid(x) if x == u)
        })
    }

    /// The open line (lowest line kind, then first in the order) that would take package `id`
    /// as a near-miss candidate, when it is a SKU line: no open UID line names the package
    /// (that line's candidate comes from `near_expected`) and it is not picked already.
    ///
    /// Called for every leaf a near-miss walk reaches, so the tag is compared as bytes (no
    /// UTF-8 check per line and per pick).
    fn sku_line_for(&self, id: u32) -> Option<usize> {
        let lines = &self.order.lines;
        let tag = self.inventory.label_bytes(id);
        let mut best: Option<(u8, usize)> = None;
        for (li, line) in lines.iter().enumerate() {
            if self.filled[li] >= line.quantity {
                continue;
            }
            let fits = match &line.want {
                Want::Uid(u) => u.as_bytes() == tag,
                Want::Sku { .. } => self.accepts(li, id),
            };
            let rank = (self.specificity(li), li);
            if fits && best.map_or(true, |b| rank < b) {
                best = Some(rank);
            }
        }
        let (specificity, best) = best?;
        if specificity == 0 {
            return None;
        }
        (!self.picks.iter().any(|p| p.tag.as_bytes() == tag)).then_some(best)
    }

    /// The index of every package some SKU line of the order takes, open or not, with the
    /// ones a line with a batch takes marked (the only ones that can rank first among the SKU
    /// lines' candidates at a distance: see `near_sku_walk`).
    fn index_sku_tags(&self) -> TagIndex {
        let inv = &self.inventory;
        let mut ids: Vec<u32> = Vec::new();
        let mut batched: Vec<u32> = Vec::new();
        for (li, line) in self.order.lines.iter().enumerate() {
            if let (Want::Sku { .. }, Resolved::Sku { sku: Some(sku), .. }) =
                (&line.want, self.resolved[li])
            {
                let taken = inv.fifo_of(sku).iter().filter(|&&id| self.accepts(li, id));
                if self.specificity(li) == 1 {
                    batched.extend(taken.clone());
                }
                ids.extend(taken);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        batched.sort_unstable();
        let marked = |id: u32| batched.binary_search(&id).is_ok();
        TagIndex::build_marked(ids.into_iter().map(|id| (id, inv.label_bytes(id))), &marked)
    }

    /// SKU-line candidates within `k` of `query` into `found`.
    fn near_sku(
        &self,
        query: &[u8],
        k: u8,
        packages: usize,
        found: &mut Vec<(u8, u8, String, u32)>,
    ) {
        let inv = &self.inventory;
        let push = |found: &mut Vec<_>, d: u8, id: u32, li: usize| {
            let line = self.order.lines[li].line;
            found.push((d, self.specificity(li), inv.label(id).to_string(), line));
        };
        if packages <= SMALL_SKU_PACKAGES {
            for (li, line) in self.order.lines.iter().enumerate() {
                let Resolved::Sku { sku: Some(sku), .. } = self.resolved[li] else {
                    continue;
                };
                if !matches!(line.want, Want::Sku { .. }) || self.filled[li] >= line.quantity {
                    continue;
                }
                for &id in inv.fifo_of(sku) {
                    let d = osa::within(inv.label_bytes(id), query, k).filter(|&d| d > 0);
                    if let (Some(d), Some(best)) = (d, d.and_then(|_| self.sku_line_for(id))) {
                        push(found, d, id, best);
                    }
                }
            }
            return;
        }
        self.near_sku_walk(query, k, found);
    }

    /// SKU-line candidates within `k` of `query` into `found`, which holds the UID lines'
    /// (ranked before any SKU line's at the same distance), by one walk of the index of every
    /// SKU line's packages: each leaf goes to its best open line, whose kind is the hit's class
    /// (so a line with a batch and a SKU-only line over one dense serial range share the
    /// range's walk). Once the candidates at distance 1 fill the list, nothing farther can
    /// rank: the walk goes on at distance 1. Once the list is full of candidates ranked before
    /// any further tag the walk finds at distance k, it goes on at k - 1; once it is full at
    /// all, so do the subtrees without a package of a line with a batch (a SKU-only line's tag
    /// found later at k ranks after every one found so far).
    fn near_sku_walk(&self, query: &[u8], k: u8, found: &mut Vec<(u8, u8, String, u32)>) {
        let inv = &self.inventory;
        let lines = &self.order.lines;
        let wanted = self.policy.candidates;
        let open_kind = |kind: u8| {
            lines.iter().enumerate().any(|(li, l)| {
                matches!(l.want, Want::Sku { .. })
                    && self.specificity(li) == kind
                    && self.filled[li] < l.quantity
            })
        };
        // The first class is the lowest kind an open line has: no later hit outranks it. With a
        // line with a batch open, only its packages (marked in the index) are of that class;
        // without one, every hit is.
        let first_kind = if open_kind(1) { 1 } else { 2 };
        // The line each accepted leaf goes to, noted by the walk's test (one `sku_line_for` per
        // leaf, not a second one per hit).
        let lines_of: std::cell::RefCell<Vec<(u32, usize)>> = Default::default();
        let classify = |id: u32| match self.sku_line_for(id) {
            Some(li) => {
                lines_of.borrow_mut().push((id, li));
                if self.specificity(li) == first_kind {
                    1
                } else {
                    2
                }
            }
            None => 0,
        };
        let index = self.sku_tags.get_or_init(|| self.index_sku_tags());
        let within = |d: u8| found.iter().filter(|c| c.0 <= d).count();
        let enough = wanted.saturating_sub(within(1));
        // A bound at which the list is full already holds nothing this walk could add.
        let mut k = if enough == 0 { k.min(1) } else { k };
        while k > 1 && within(k) >= wanted {
            k -= 1;
        }
        let enough_at_k = wanted.saturating_sub(within(k));
        let hits = index.within_where_ranked(query, k, &classify, enough.max(1), enough_at_k);
        let mut lines_of = lines_of.into_inner();
        lines_of.sort_unstable();
        for (d, _, id) in hits {
            if d == 0 {
                continue;
            }
            if let Ok(at) = lines_of.binary_search_by_key(&id, |&(i, _)| i) {
                let li = lines_of[at].1;
                found.push((
                    d,
                    self.specificity(li),
                    inv.label(id).to_string(),
                    lines[li].line,
                ));
            }
        }
    }
}
