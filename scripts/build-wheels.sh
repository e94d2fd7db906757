#!/usr/bin/env bash
# Build the prebuilt packstation wheels (abi3: one wheel per architecture for every CPython >= 3.11).
#
#   scripts/build-wheels.sh [--arch x86_64|aarch64|all] [--out DIR]     (default: all, dist/)
#
# Each wheel is built with maturin and zig as the linker (`maturin build --zig`), which gives it the
# portable manylinux2014 tag (glibc 2.17: Raspberry Pi OS bookworm, Debian 11+, Ubuntu 20.04+).
# aarch64 is cross-compiled on an x86-64 machine (and x86_64 on a Pi); it needs Rust's standard
# library for that target, which this script adds with `rustup target add` when it is missing. maturin and ziglang come from PyPI into
# .venv (scripts/bootstrap.sh makes it). Install a wheel with scripts/install-pi.sh --wheel FILE.
# Exit status: 0 every requested wheel built, 1 one failed (the reason is printed), 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=all OUT=dist
while (($#)); do
    case "$1" in
        --arch) ARCH=${2:?}; shift ;;
        --out) OUT=${2:?}; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "build-wheels: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$ARCH" in all) arches=(x86_64 aarch64) ;; x86_64|aarch64) arches=("$ARCH") ;;
    *) echo "build-wheels: --arch must be x86_64, aarch64 or all" >&2; exit 2 ;; esac

PY=.venv/bin/python
export PATH="$PWD/.venv/bin:$PATH"   # maturin finds zig as `python -m ziglang` on PATH
[[ -x $PY ]] || PY=python3
if ! "$PY" -m maturin --version >/dev/null 2>&1 || ! "$PY" -m ziglang version >/dev/null 2>&1; then
    "$PY" -m pip install -q 'maturin>=1.9.4,<2' ziglang
fi

failed=0
for arch in "${arches[@]}"; do
    target="$arch-unknown-linux-gnu"
    libdir=$(rustc --print target-libdir --target "$target" 2>/dev/null || true)
    if [[ ! -d $libdir ]] || ! ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
        command -v rustup >/dev/null && rustup target add "$target" || true
        libdir=$(rustc --print target-libdir --target "$target" 2>/dev/null || true)
    fi
    if [[ -z $libdir || ! -d $libdir ]] || ! ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
        echo "build-wheels: $arch: Rust's standard library for $target is not installed" >&2
        echo "  run: rustup target add $target   (downloads it from the Rust project's servers)" >&2
        failed=1
        continue
    fi
    echo "== $arch"
    "$PY" -m maturin build --release --target "$target" --zig --compatibility manylinux2014 \
        --out "$OUT" || failed=1
done
ls -l "$OUT"/packstation-*.whl 2>/dev/null || true
exit "$failed"
