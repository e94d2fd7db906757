#!/usr/bin/env bash
# Set up everything packstation needs on a fresh Debian-family machine, from the project's own files:
# Debian packages (when root and missing), a virtual environment in .venv, the Python packages from
# PyPI and the Rust core built from crates.io by maturin (`pip install -e .`).
# Usage: scripts/bootstrap.sh [test]    ("test" adds what the test suite needs, e.g. PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."

want=(pkg-config libxkbcommon-dev xkb-data tzdata fonts-dejavu-core)
# test: PostgreSQL for the store tests; curl for examples/intake.sh; chromium + chromium-driver for
# the dashboard's browser test (Selenium drives Debian's browser: no browser download of its own).
[[ "${1:-}" == "test" ]] && want+=(postgresql curl chromium chromium-driver)

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: please install these Debian packages first: ${missing[*]}" >&2
    exit 1
  fi
fi

command -v cargo >/dev/null || { echo "bootstrap: a Rust toolchain (cargo >= 1.80, e.g. by rustup) is needed" >&2; exit 1; }

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bootstrap: Python >= 3.11 is needed" >&2; exit 1; }
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Editable install: builds edge._core (release profile) with maturin and installs the dev tools.
.venv/bin/python -m pip install -q -e '.[dev]'
