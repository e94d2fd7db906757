#!/usr/bin/env bash
# Host packages for the full-system test (tests/system/): QEMU (TCG), mmdebstrap, e2fsprogs, zstd.
# Idempotent; needs root and a Debian 12 (bookworm) host with its Debian mirror configured.
# QEMU comes from bookworm-backports, like the host's qemu-utils when that is already from there
# (bookworm's qemu-system 7.2 conflicts with backports' qemu-utils; one suite for all QEMU packages).
# Usage: tests/system/host-setup.sh [--arm64]   (--arm64 also: qemu-system-arm, qemu-user-static,
# binfmt-support, arch-test, for the aarch64 image)
set -euo pipefail
arm64=0
[ "${1:-}" = "--arm64" ] && arm64=1
if [ "$(id -u)" != 0 ]; then echo "host-setup.sh: needs root (apt-get)" >&2; exit 77; fi
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v zstd >/dev/null || need+=(zstd)
command -v cpio >/dev/null || need+=(cpio)
if [ "$arm64" = 1 ]; then
  command -v qemu-system-aarch64 >/dev/null || need+=(qemu-system-arm qemu-efi-aarch64)
  command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static binfmt-support)
  command -v arch-test >/dev/null || need+=(arch-test)
fi
[ "${#need[@]}" = 0 ] && exit 0
# The mirror this host already uses for bookworm.
mirror=$(grep -hoE '^(URIs:|deb) *[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v security | head -n1 | awk '{print $2}' || true)
mirror=${mirror:-http://deb.debian.org/debian}
src=/etc/apt/sources.list.d/packstation-system-test-backports.sources
if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" >"$src"
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
bpo=()
rest=()
for p in "${need[@]}"; do
  case $p in qemu-*) bpo+=("$p") ;; *) rest+=("$p") ;; esac
done
if [ "${#bpo[@]}" != 0 ]; then
  apt-get install -y -qq --no-install-recommends -t bookworm-backports "${bpo[@]}" qemu-system-data
fi
if [ "${#rest[@]}" != 0 ]; then
  apt-get install -y -qq --no-install-recommends "${rest[@]}"
fi
