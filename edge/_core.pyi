"""Type stubs for the compiled core (core_rs, built by maturin into edge._core)."""

__version__: str
