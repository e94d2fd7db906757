//! Scans: recognising what a scanner typed (`uid`, `retail_id`), the vault inventory index and
//! its near-miss search (`inventory`, `tag_index`, `osa`), cycle-count reconciliation
//! (`reconcile`), and the verdict of each scan against an ORDER.json (`order`, `verdict`).

pub mod inventory;
pub mod order;
pub mod osa;
pub mod reconcile;
pub mod retail_id;
pub mod tag_index;
pub mod uid;
pub mod verdict;
