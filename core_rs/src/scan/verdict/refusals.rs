//! The refusals that need a search of the order or the vault to explain themselves: a package
//! the vault does not know (near miss?), one no line wants (wrong batch?), and FIFO.

use super::{FifoPolicy, OrderCheck, Resolved, Verdict, VerdictKind};
use crate::civil_date;
use crate::scan::order::Want;

impl OrderCheck {
    pub(super) fn fifo(&mut self, v: &mut Verdict, li: usize, id: u32, older: u32) {
        let inv = &self.inventory;
        let date = |p: u32| civil_date::format(inv.record(p).packaged);
        let older_tag = inv.label(older).to_string();
        v.verdict = VerdictKind::Fifo;
        v.candidates = vec![older_tag.clone()];
        if self.policy.fifo == FifoPolicy::Refuse {
            v.reason = format!(
                "An older package of this SKU must go first: put this one (packed {}) back and pick {older_tag} (packed {}).",
                date(id),
                date(older)
            );
            return;
        }
        v.reason = format!(
            "Accepted for line {}, but {older_tag} (packed {}) is older than this one (packed {}): pick older stock first.",
            self.order.lines[li].line,
            date(older),
            date(id)
        );
        v.accepted = true;
        let tag = inv.label(id).to_string();
        self.record(li, &v.scan.clone(), &tag, v.unit);
    }

    pub(super) fn not_in_vault(&self, v: &mut Verdict, tag: &str) {
        if let Some(l) = self
            .order
            .lines
            .iter()
            .find(|l| matches!(&l.want, Want::Uid(u) if u == tag))
        {
            v.verdict = VerdictKind::Unknown;
            v.line = Some(l.line);
            v.reason = format!(
                "Named by line {} but missing from the vault inventory: set it aside and have a supervisor refresh the inventory.",
                l.line
            );
            return;
        }
        let near = self.near_expected(tag);
        if let Some(&(_, _, ref best, line)) = near.first() {
            v.verdict = VerdictKind::NearMiss;
            v.line = Some(line);
            v.candidates = near.iter().map(|c| c.2.clone()).collect();
            v.reason = format!(
                "Not in the vault inventory, but close to {best} for line {line}: check the tag on the package and scan it again."
            );
        } else {
            v.verdict = VerdictKind::Unknown;
            v.reason =
                "Not in the vault inventory: set the package aside and call a supervisor.".into();
        }
    }

    pub(super) fn not_wanted(&self, v: &mut Verdict, id: u32) {
        let inv = &self.inventory;
        let rec = inv.record(id);
        let batch = inv.text(rec.batch).unwrap_or("");
        let mut same_product: Option<(u32, String)> = None;
        // Only lines still short of packages can want this one: a filled line is not the one
        // the technician should be sent back to.
        let open = self
            .order
            .lines
            .iter()
            .enumerate()
            .filter(|&(li, line)| self.filled[li] < line.quantity);
        for (li, line) in open {
            match (&line.want, self.resolved[li]) {
                (
                    Want::Sku {
                        sku,
                        batch: Some(want),
                    },
                    Resolved::Sku { sku: Some(s), .. },
                ) if s == rec.sku => {
                    v.verdict = VerdictKind::WrongBatch;
                    v.line = Some(line.line);
                    v.candidates = self.eligible(li, self.policy.candidates);
                    v.reason = format!(
                        "Wrong batch: line {} wants {sku} from batch {want}, this package is batch {batch}: put it back and pick batch {want}.",
                        line.line
                    );
                    return;
                }
                (Want::Uid(u), _) => match inv.lookup(u) {
                    Some(other)
                        if inv.record(other).sku == rec.sku
                            && inv.record(other).batch != rec.batch =>
                    {
                        let want = inv.text(inv.record(other).batch).unwrap_or("");
                        v.verdict = VerdictKind::WrongBatch;
                        v.line = Some(line.line);
                        v.candidates = vec![u.clone()];
                        v.reason = format!(
                            "Wrong batch: line {} wants package {u} from batch {want}, this one is batch {batch}: put it back and pick {u}.",
                            line.line
                        );
                        return;
                    }
                    Some(other) if inv.record(other).sku == rec.sku && same_product.is_none() => {
                        same_product = Some((line.line, u.clone()));
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        v.verdict = VerdictKind::NotInOrder;
        if let Some((line, u)) = same_product {
            v.line = Some(line);
            v.candidates = vec![u.clone()];
            v.reason = format!(
                "Line {line} names package {u}; this is another package of the same product: put it back and pick {u}."
            );
        } else {
            v.reason = format!("Not in this order ({}): put it back.", self.describe(id));
        }
    }
}
