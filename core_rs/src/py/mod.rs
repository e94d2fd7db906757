//! PyO3 boundary: conversions and error mapping only; no logic lives here.
//!
//! This file declares the module `edge._core` and `CoreError`, the base of every exception the
//! module raises (a `ValueError`, so callers that catch `ValueError` keep working). Each
//! capability registers its classes, functions and exceptions from its own file: `scan.rs` for
//! `crate::scan`, `limits.rs` for `crate::limits`.

use pyo3::prelude::*;

mod chain;
mod inventory_rows;
mod limits;
mod scan;

pyo3::create_exception!(
    edge._core,
    CoreError,
    pyo3::exceptions::PyValueError,
    "Base class of every error edge._core raises (a ValueError)."
);

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", crate::VERSION)?;
    m.add("CoreError", m.py().get_type::<CoreError>())?;
    scan::register(m)?;
    limits::register(m)?;
    inventory_rows::register(m)?;
    chain::register(m)?;
    Ok(())
}
