//! packstation core: the exact, hot logic of the pack station (UID matching and limit math).
//!
//! The pure-Rust API is usable (and tested) without Python; the `python` feature adds the
//! PyO3 module `edge._core`, whose wrappers live in `py.rs` and nowhere else.

pub mod limits;
#[cfg(feature = "python")]
mod py;
pub mod rational;
pub mod rules;

/// Version of the core, reported by `packstation --version` and journalled at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
