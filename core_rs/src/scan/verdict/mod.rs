//! Scan verdicts against an order: each scan gets one verdict and a one-sentence reason a
//! technician can act on (it is printed on the discrepancy slip).
//!
//! Order of judgement: what was scanned (malformed, GS1, unrecognised) -> already scanned
//! (duplicate) -> known to the vault (unknown, near_miss) -> wanted by a line (wrong_batch,
//! not_in_order) -> sellable (on_hold, expired, not_tested) -> first in, first out (fifo) -> match.
//! Only `match`, and `fifo` under the `warn` policy, count toward a line.

use crate::scan::inventory::Inventory;
use crate::scan::order::{Order, Want};
use crate::scan::tag_index::TagIndex;
use crate::scan::uid::{Recognised, Recogniser, ScanKind};
use std::sync::{Arc, OnceLock};

mod refusals;
mod search;

/// The verdict names (stable: JSON output, journal, Python API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictKind {
    Match,
    Duplicate,
    WrongBatch,
    NotInOrder,
    Unknown,
    NearMiss,
    OnHold,
    Expired,
    NotTested,
    Fifo,
    Malformed,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Match => "match",
            VerdictKind::Duplicate => "duplicate",
            VerdictKind::WrongBatch => "wrong_batch",
            VerdictKind::NotInOrder => "not_in_order",
            VerdictKind::Unknown => "unknown",
            VerdictKind::NearMiss => "near_miss",
            VerdictKind::OnHold => "on_hold",
            VerdictKind::Expired => "expired",
            VerdictKind::NotTested => "not_tested",
            VerdictKind::Fifo => "fifo",
            VerdictKind::Malformed => "malformed",
        }
    }
}

/// What to do when a newer package is picked while an older sellable one of the SKU exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoPolicy {
    Warn,
    Refuse,
    Off,
}

/// Verification options (`[verify]` in station.toml).
#[derive(Debug, Clone)]
pub struct Policy {
    pub fifo: FifoPolicy,
    /// Largest OSA distance of a near miss (0 turns near-miss search off).
    pub near_distance: u8,
    /// Most candidates listed for a near miss, wrong batch or fifo verdict.
    pub candidates: usize,
    /// `LabTestingState` values that count as passed; absent means not tracked.
    pub lab_passed: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fifo: FifoPolicy::Warn,
            near_distance: 2,
            candidates: 5,
            lab_passed: vec!["TestPassed".into(), "RetestPassed".into()],
        }
    }
}

/// One scan's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub scan: String,
    pub verdict: VerdictKind,
    pub line: Option<u32>,
    pub reason: String,
    pub candidates: Vec<String>,
    pub kind: ScanKind,
    pub tag: Option<String>,
    pub unit: Option<u64>,
    /// Whether the scan now counts toward its line.
    pub accepted: bool,
}

/// An accepted scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub scan: String,
    pub tag: String,
    pub unit: Option<u64>,
    pub line: u32,
}

/// A journalled pick that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError(pub String);

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Interned ids of a SKU line, resolved once (None: no package of that SKU/batch exists).
#[derive(Debug, Clone, Copy)]
enum Resolved {
    Uid,
    Sku {
        sku: Option<u32>,
        batch: Option<Option<u32>>,
    },
}

/// A verification session for one order: scans applied in order, state kept.
#[derive(Debug)]
pub struct OrderCheck {
    inventory: Arc<Inventory>,
    recogniser: Arc<Recogniser>,
    order: Order,
    resolved: Vec<Resolved>,
    policy: Policy,
    today: i32,
    picks: Vec<Pick>,
    filled: Vec<u32>,
    /// The tags the order's SKU lines can take (their SKU and batch), indexed on the first
    /// near-miss search that needs them: that search walks what the order can accept, not the
    /// whole vault. One index for every SKU line (with a batch or not): one walk of a dense
    /// serial range, whatever the lines' kinds.
    sku_tags: OnceLock<TagIndex>,
}

impl OrderCheck {
    /// Start a session; `picked` UIDs in the order file are restored as earlier matches.
    pub fn new(
        order: Order,
        inventory: Arc<Inventory>,
        recogniser: Arc<Recogniser>,
        today: i32,
        policy: Policy,
    ) -> Result<Self, RestoreError> {
        let resolved = order
            .lines
            .iter()
            .map(|l| match &l.want {
                Want::Uid(_) => Resolved::Uid,
                Want::Sku { sku, batch } => Resolved::Sku {
                    sku: inventory.strings.get(sku),
                    batch: batch.as_ref().map(|b| inventory.strings.get(b)),
                },
            })
            .collect();
        let filled = vec![0; order.lines.len()];
        let mut check = OrderCheck {
            inventory,
            recogniser,
            order,
            resolved,
            policy,
            today,
            picks: Vec::new(),
            filled,
            sku_tags: OnceLock::new(),
        };
        let earlier: Vec<(String, u32)> = check
            .order
            .lines
            .iter()
            .flat_map(|l| l.picked.iter().map(|p| (p.clone(), l.line)))
            .collect();
        check.restore(&earlier)?;
        Ok(check)
    }

    pub fn order(&self) -> &Order {
        &self.order
    }

    pub fn picks(&self) -> &[Pick] {
        &self.picks
    }

    /// Per line: (line number, quantity wanted, tags accepted so far).
    pub fn progress(&self) -> Vec<(u32, u32, Vec<String>)> {
        self.order
            .lines
            .iter()
            .map(|l| {
                let tags = self
                    .picks
                    .iter()
                    .filter(|p| p.line == l.line)
                    .map(|p| p.tag.clone());
                (l.line, l.quantity, tags.collect())
            })
            .collect()
    }

    /// Whether every line has all its packages.
    pub fn is_complete(&self) -> bool {
        self.order
            .lines
            .iter()
            .zip(&self.filled)
            .all(|(l, &n)| n >= l.quantity)
    }

    /// Re-apply journalled accepted scans `(raw scan, line)` without judging them again (after a
    /// power cut); each must name a package, fit its line and not repeat an earlier pick.
    pub fn restore(&mut self, picks: &[(String, u32)]) -> Result<(), RestoreError> {
        for (scan, line) in picks {
            let r = self.recogniser.recognise(scan);
            let Some(tag) = r.tag else {
                return Err(RestoreError(format!("{scan:?} does not name a package")));
            };
            let Some(li) = self.order.lines.iter().position(|l| l.line == *line) else {
                return Err(RestoreError(format!(
                    "{tag}: order {} has no line {line}",
                    self.order.order_id
                )));
            };
            if self.filled[li] >= self.order.lines[li].quantity {
                return Err(RestoreError(format!(
                    "{tag}: line {line} is already complete"
                )));
            }
            if let Some(p) = self.earlier(&tag, r.unit) {
                return Err(RestoreError(format!(
                    "{tag}: already picked for line {}",
                    p.line
                )));
            }
            let fits = match self.inventory.lookup(&tag) {
                Some(id) => self.accepts(li, id),
                None => matches!(&self.order.lines[li].want, Want::Uid(u) if *u == tag),
            };
            if !fits {
                return Err(RestoreError(format!(
                    "{tag}: does not belong to line {line}"
                )));
            }
            self.record(li, scan, &tag, r.unit);
        }
        Ok(())
    }

    /// Judge one raw scan and, when accepted, count it toward its line.
    pub fn scan(&mut self, raw: &str) -> Verdict {
        let r = self.recogniser.recognise(raw);
        self.judge_recognised(raw, r)
    }

    /// `scan` of a scan whose AIM symbology identifier is already split off (see
    /// `Recogniser::recognise_split`); the verdict's `scan` is `text`.
    pub fn scan_split(&mut self, text: &str, symbology: Option<&str>) -> Verdict {
        let r = self.recogniser.recognise_split(text, symbology);
        self.judge_recognised(text, r)
    }

    fn judge_recognised(&mut self, raw: &str, r: Recognised) -> Verdict {
        let mut v = Verdict {
            scan: raw.to_string(),
            verdict: VerdictKind::Malformed,
            line: None,
            reason: String::new(),
            candidates: Vec::new(),
            kind: r.kind,
            tag: r.tag.clone(),
            unit: r.unit,
            accepted: false,
        };
        match (r.kind, r.tag) {
            (ScanKind::Empty, _) => {
                v.reason = "Nothing was read: scan the package tag again.".into()
            }
            (ScanKind::Malformed, _) => {
                let problem = r.problem.unwrap_or_default();
                v.reason = format!("Unreadable scan ({problem}): scan the package tag again.");
            }
            (ScanKind::Gs1, _) => {
                v.verdict = VerdictKind::Unknown;
                v.reason =
                    "A GS1 product barcode, not a package UID: scan the METRC tag on the package."
                        .into();
            }
            (_, Some(tag)) => self.judge(&mut v, &tag),
            (_, None) => self.unrecognised(&mut v, &r.text),
        }
        v
    }

    fn unrecognised(&self, v: &mut Verdict, text: &str) {
        let plausible =
            !text.is_empty() && text.len() <= 64 && text.bytes().all(|c| c.is_ascii_alphanumeric());
        let near = if plausible {
            self.near_expected(text)
        } else {
            Vec::new()
        };
        if let Some(&(_, _, ref best, line)) = near.first() {
            v.verdict = VerdictKind::NearMiss;
            v.line = Some(line);
            v.candidates = near.iter().map(|c| c.2.clone()).collect();
            v.reason = format!(
                "Not a valid tag, but close to {best} for line {line}: check the tag on the package and scan it again."
            );
        } else {
            v.reason = format!(
                "Not a package tag, Retail ID or BioTrack id ({} characters): scan the package's METRC tag.",
                text.chars().count()
            );
        }
    }

    fn judge(&mut self, v: &mut Verdict, tag: &str) {
        if let Some(p) = self.earlier(tag, v.unit) {
            v.verdict = VerdictKind::Duplicate;
            v.line = Some(p.line);
            v.reason = format!(
                "Already scanned for line {} of this order: do not pack it twice.",
                p.line
            );
            return;
        }
        let inv = Arc::clone(&self.inventory);
        let Some(id) = inv.lookup(tag) else {
            return self.not_in_vault(v, tag);
        };
        let accepting: Vec<usize> = (0..self.order.lines.len())
            .filter(|&li| self.accepts(li, id))
            .collect();
        if accepting.is_empty() {
            return self.not_wanted(v, id);
        }
        let open: Vec<usize> = accepting
            .iter()
            .copied()
            .filter(|&li| self.filled[li] < self.order.lines[li].quantity)
            .collect();
        let Some(&li) = open.iter().min_by_key(|&&li| (self.specificity(li), li)) else {
            let line = &self.order.lines[accepting[0]];
            v.verdict = VerdictKind::NotInOrder;
            v.line = Some(line.line);
            v.reason = format!(
                "Line {} already has its {} package(s): put this one back.",
                line.line, line.quantity
            );
            return;
        };
        let line = self.order.lines[li].line;
        v.line = Some(line);
        if let Some((kind, reason)) = self.unsellable(id) {
            v.verdict = kind;
            v.reason = reason;
            return;
        }
        if matches!(self.order.lines[li].want, Want::Sku { .. })
            && self.policy.fifo != FifoPolicy::Off
        {
            if let Some(older) = self.older(li, id) {
                return self.fifo(v, li, id, older);
            }
        }
        v.verdict = VerdictKind::Match;
        v.accepted = true;
        self.record(li, &v.scan.clone(), tag, v.unit);
        let (done, want) = (self.filled[li], self.order.lines[li].quantity);
        v.reason = format!(
            "Line {line}: {} ({done} of {want}); pack it.",
            self.describe(id)
        );
    }

    fn earlier(&self, tag: &str, unit: Option<u64>) -> Option<&Pick> {
        // One package is one pick unless its units are scanned by Retail ID, one pick per unit.
        self.picks
            .iter()
            .find(|p| p.tag == tag && (p.unit == unit || p.unit.is_none() || unit.is_none()))
    }

    fn record(&mut self, li: usize, scan: &str, tag: &str, unit: Option<u64>) {
        self.filled[li] += 1;
        let line = self.order.lines[li].line;
        self.picks.push(Pick {
            scan: scan.to_string(),
            tag: tag.to_string(),
            unit,
            line,
        });
    }

    fn describe(&self, id: u32) -> String {
        let inv = &self.inventory;
        let rec = inv.record(id);
        format!(
            "{}, SKU {}, batch {}",
            inv.text(rec.name).unwrap_or(""),
            inv.text(rec.sku).unwrap_or(""),
            inv.text(rec.batch).unwrap_or("")
        )
    }
}
