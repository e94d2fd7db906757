//! A customer's prior purchases summed per bucket once per order, so a check adds each bucket's
//! windowed history in two lookups instead of walking every prior purchase again.
//!
//! The priors are ordered newest first. A rolling window (`RollingDays`) then takes a prefix of
//! them, and a calendar day a contiguous run, so a bucket's prior use is the difference of two
//! prefix sums. The sums are kept at denominator 1. A prior's use of a bucket is its amount times
//! the slot's weight, times the cart's common denominator `den` (its portion denominator being 1),
//! so the check multiplies the difference by `den`.
//!
//! The sums stand in for the walk only where they give the same numbers and the same errors.
//! `PriorSums::build` declines an order whose history has a line the walk would refuse or
//! scale differently: a missing category or measure, a portion, a negative or overflowing use,
//! or store-local days out of time order (the walk reports those). `PriorSums::add_to`
//! declines a product with `den` past i128, where the walk reports the overflow. Every term is
//! non-negative, so no partial sum in the walk overflows when the whole does not.

use super::rational::mul;
use super::rules::Window;
use super::{CompiledClass, LimitTable, Prior, SECONDS_PER_DAY};

/// The prior purchases of one order summed per bucket of one (version, class) of a table.
pub struct PriorSums {
    version: usize,
    class: usize,
    /// The priors' times, newest first.
    at_s: Vec<i64>,
    /// Their store-local days, in the same order (non-increasing).
    days: Vec<i32>,
    buckets: usize,
    /// The largest amount (per-unit measure times quantity, at denominator 1) of any prior in
    /// any slot: the walk scales every prior's amounts by `den`, in or out of the window.
    max_amount: i128,
    /// `(priors + 1) * buckets`: row k holds each bucket's use by the k newest priors.
    prefix: Vec<i128>,
}

impl PriorSums {
    /// The sums of `prior` for `class` in the version of `table` in force on `day`, or None
    /// where the walk must run (see the module's comment).
    pub fn build(table: &LimitTable, class: &str, day: i32, prior: &[Prior]) -> Option<Self> {
        let version = table.find_version(day)?;
        let ci = table.versions[version]
            .classes
            .iter()
            .position(|c| c.name == class)?;
        let rules = &table.versions[version].classes[ci];
        let mut order: Vec<&Prior> = prior.iter().collect();
        order.sort_by_key(|p| std::cmp::Reverse(p.at_s));
        if order.windows(2).any(|w| w[1].day > w[0].day) {
            return None;
        }
        let n = rules.buckets.len();
        let mut prefix = vec![0_i128; (order.len() + 1) * n];
        let mut max_amount = 0;
        for (k, p) in order.iter().enumerate() {
            let (done, rest) = prefix.split_at_mut((k + 1) * n);
            let row = &mut rest[..n];
            row.copy_from_slice(&done[k * n..]);
            max_amount = max_amount.max(add_prior(rules, p, row)?);
        }
        Some(Self {
            version,
            class: ci,
            at_s: order.iter().map(|p| p.at_s).collect(),
            days: order.iter().map(|p| p.day).collect(),
            buckets: n,
            max_amount,
            prefix,
        })
    }

    /// Whether these sums are for (version, class) indices `version`, `class`.
    pub(super) fn is_for(&self, version: usize, class: usize) -> bool {
        self.version == version && self.class == class
    }

    /// Each bucket's prior use at `at_s` on `day`, times `den`, into `totals` and `used` (both
    /// zero on entry); None, with both left zero, where a product passes i128.
    pub(super) fn add_to(
        &self,
        class: &CompiledClass,
        at_s: i64,
        day: i32,
        den: i128,
        totals: &mut [i128],
        used: &mut [i128],
    ) -> Option<()> {
        let n = self.buckets;
        mul(self.max_amount, den)?;
        for (b, bucket) in class.buckets.iter().enumerate() {
            let (lo, hi) = match bucket.rule.window {
                Window::Transaction => continue,
                Window::CalendarDay => (
                    self.days.partition_point(|&d| d > day),
                    self.days.partition_point(|&d| d >= day),
                ),
                Window::RollingDays(days) => {
                    let after = at_s - i64::from(days) * SECONDS_PER_DAY;
                    (0, self.at_s.partition_point(|&t| t > after))
                }
            };
            let sum = self.prefix[hi * n + b] - self.prefix[lo * n + b];
            let Some(v) = mul(sum, den) else {
                totals.fill(0);
                used.fill(0);
                return None;
            };
            totals[b] = v;
            used[b] = v;
        }
        Some(())
    }
}

/// Add `p`'s use of each bucket (at denominator 1) to `row` and return its largest amount;
/// None where the walk would refuse the line or scale it by something other than the cart's
/// denominator.
fn add_prior(rules: &CompiledClass, p: &Prior, row: &mut [i128]) -> Option<i128> {
    let line = &p.line;
    if line.den() != 1 {
        return None;
    }
    let mut largest = 0;
    for slot in &rules.slots[line.category?.index()] {
        let amount = line.amount_with(slot.measure, 1, 1)??;
        let use_ = mul(amount, slot.weight)?;
        if amount < 0 || use_ < 0 {
            return None;
        }
        largest = largest.max(amount);
        let total = &mut row[slot.bucket];
        *total = total.checked_add(use_)?;
    }
    Some(largest)
}
