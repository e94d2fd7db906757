#!/usr/bin/env bash
# The full-system test in an aarch64 guest (qemu-system-aarch64 -M virt -cpu cortex-a72, TCG):
# the same scenario as tests/system/test_system.py, with the aarch64 wheel. Not part of the test
# command (the arm64 image takes about 11 minutes to build under qemu-user and the guest runs
# about twice as slowly as amd64 under TCG); run it by hand, as root, on Debian 12:
#
#   tests/system/arm64.sh --wheel dist/packstation-*-aarch64.whl [--wheelhouse DIR] [--keep DIR]
#   tests/system/arm64.sh --wheel FILE --wheelhouse-only     (build the wheelhouse, print its path)
#
# The wheel: scripts/build-wheels.sh --arch aarch64 (cross-built with zig). The wheelhouse: the
# wheel's dependencies for CPython 3.11 on aarch64; PyPI has binary wheels for all of them but
# evdev and xkbcommon (sdists with C code), which must be built for aarch64 (on a Pi, or in an
# arm64 chroot through qemu-user: `pip wheel evdev xkbcommon` there with build-essential,
# python3-dev and libxkbcommon-dev installed). Without --wheelhouse this script downloads the
# binary ones and builds those two in an arm64 chroot of Debian bookworm (mmdebstrap, qemu-user).
# Exit status as tests/system/vm.py: 0 passed, 1 a check failed, 77 cannot run here, 2 set-up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
wheel="" house="" keep=() only_house=0
while (($#)); do
  case $1 in
    --wheel) wheel=$2; shift ;;
    --wheelhouse) house=$2; shift ;;
    --keep) keep=(--keep "$2"); shift ;;
    --wheelhouse-only) only_house=1 ;;
    *) echo "arm64.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "arm64.sh: needs root" >&2; exit 77; }
[ -f "$wheel" ] || { echo "arm64.sh: --wheel FILE (an aarch64 packstation wheel) is required" >&2; exit 2; }
"$here/host-setup.sh" --arm64
# Foreign-architecture maintainer scripts in mmdebstrap need binfmt_misc with qemu-aarch64 (flag F).
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
py=${PYTHON:-$root/.venv/bin/python}
if [ -z "$house" ]; then
  cache=${PACKSTATION_VM_CACHE:-$HOME/.cache/packstation-vm}
  house=$cache/wheelhouse-arm64-$(sha256sum "$wheel" | cut -c1-16)
  if [ ! -f "$house/done" ]; then
    rm -rf "$house"; mkdir -p "$house"
    reqs=$("$py" - "$wheel" <<'EOF'
import sys, zipfile
from email.parser import Parser
with zipfile.ZipFile(sys.argv[1]) as zf:
    meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    msg = Parser().parsestr(zf.read(meta).decode())
for req in msg.get_all("Requires-Dist") or []:
    if "extra ==" in req and "station" not in req:
        continue
    print(req.split(";")[0].strip())
EOF
)
    binary=() source=()
    for r in $reqs; do
      case $r in evdev*|xkbcommon*) source+=("$r") ;; *) binary+=("$r") ;; esac
    done
    "$py" -m pip download -q --only-binary=:all: --platform manylinux2014_aarch64 \
      --platform manylinux_2_28_aarch64 --python-version 3.11 --implementation cp -d "$house" "${binary[@]}" cffi setuptools wheel
    chroot_dir=$cache/arm64-build-chroot
    if [ ! -x "$chroot_dir/usr/bin/gcc" ]; then
      rm -rf "$chroot_dir"
      mmdebstrap --variant=apt --architectures=arm64 \
        --include=python3,python3-venv,python3-pip,python3-dev,build-essential,pkg-config,libxkbcommon-dev \
        bookworm "$chroot_dir"
    fi
    # The sdists and their build requirements come from the host's pip (its index and proxy
    # settings); the chroot builds offline.
    rm -rf "$chroot_dir/src" "$chroot_dir/wh"; mkdir -p "$chroot_dir/src" "$chroot_dir/wh"
    "$py" -m pip download -q --no-binary=:all: --no-deps -d "$chroot_dir/src" "${source[@]}"
    cp "$house"/*.whl "$chroot_dir/src/"
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$chroot_dir" sh -c \
      "python3 -m venv /b && /b/bin/pip wheel -q --no-index --find-links /src -w /wh /src/*.tar.gz"
    cp "$chroot_dir"/wh/evdev-*.whl "$chroot_dir"/wh/xkbcommon-*.whl "$house/"
    touch "$house/done"
  fi
fi
if [ "$only_house" = 1 ]; then echo "$house"; exit 0; fi
exec "$py" "$here/vm.py" --arch arm64 --timeout 3600 --wheel "$wheel" --wheelhouse "$house" "${keep[@]}"
