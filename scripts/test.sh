#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set-up, Rust and Python lints, cargo tests, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
export PATH="$PWD/.venv/bin:$PATH"

step() { echo "== $*" >&2; }
step "cargo fmt";     cargo fmt --all --check
step "cargo clippy";  cargo clippy --all-targets -- -D warnings
step "cargo clippy (python bindings)"; cargo clippy --all-targets --features python -- -D warnings
step "cargo test";    cargo test --quiet
step "ruff";          ruff check . && ruff format --check .
step "mypy";          mypy --strict
step "stubtest";      python -m mypy.stubtest edge._core
step "import layers"; lint-imports
step "pytest";        python -m pytest -q "$@"
