//! packstation core: the exact, hot logic of the pack station (UID matching and limit math).
//!
//! The pure-Rust API (`scan`, `limits`, `civil_date`) is usable, and tested, without Python. The
//! `python` feature adds the PyO3 module `edge._core`; its wrappers live under `py/` and nowhere
//! else: `py/mod.rs` declares the module and its base exception, `py/scan.rs` and
//! `py/limits.rs` convert and map errors for `scan` and `limits`.

pub mod chain;
pub mod civil_date;
pub mod limits;
#[cfg(feature = "python")]
mod py;
pub mod scan;

/// Version of the core, reported by `packstation --version` and journalled at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
