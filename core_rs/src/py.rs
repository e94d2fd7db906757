//! PyO3 boundary: conversions and error mapping only; no logic lives here.
//! Each capability registers its classes, functions and exceptions from its own file.

use pyo3::prelude::*;

#[path = "py_limits.rs"]
mod py_limits;
#[path = "py_scan.rs"]
mod py_scan;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", crate::VERSION)?;
    py_scan::register(m)?;
    py_limits::register(m)?;
    Ok(())
}
