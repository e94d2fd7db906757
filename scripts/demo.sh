#!/usr/bin/env bash
# The main job: a simulated pack day, with central and a station running for real on embedded
# defaults and simulated devices. Extra arguments go to `packstation simulate`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/packstation simulate "$@"
