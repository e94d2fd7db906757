//! packstation core: the exact, hot logic of the pack station (UID matching and limit math).
//!
//! The pure-Rust API is usable (and tested) without Python; the `python` feature adds the
//! PyO3 module `edge._core`, whose wrappers live in `py.rs` and nowhere else.

pub mod limits;
#[cfg(feature = "python")]
mod py;
pub mod rational;
pub mod rules;

// Scan recognition, the vault inventory index and scan verdicts (Python side: py_scan.rs).
pub mod civil_date;
pub mod inventory;
pub mod inventory_json;
pub mod inventory_stream;
pub mod order_file;
pub mod osa;
pub mod reconcile;
pub mod retail_id;
pub mod tag_index;
pub mod uid;
pub mod verdict;

/// Version of the core, reported by `packstation --version` and journalled at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
