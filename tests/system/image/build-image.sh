#!/usr/bin/env bash
# Builds (once) the Debian bookworm guest image of the full-system test and prints its directory.
# Usage: tests/system/image/build-image.sh [amd64|arm64]
# The image is cached outside the checkout, in ${PACKSTATION_VM_CACHE:-~/.cache/packstation-vm}/
# <arch>-bookworm-<hash>, the hash covering this directory (script, customize hook, guest runner)
# and the arguments: an unchanged tree reuses the image, a changed one builds a new one.
# Needs root, mmdebstrap and e2fsprogs (tests/system/host-setup.sh installs them).
set -euo pipefail
arch=${1:-amd64}
here=$(cd "$(dirname "$0")" && pwd)
cache=${PACKSTATION_VM_CACHE:-$HOME/.cache/packstation-vm}
hash=$( (echo "$arch bookworm"; cd "$here" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
out=$cache/$arch-bookworm-$hash
if [ -f "$out/done" ]; then echo "$out"; exit 0; fi
mirror=${PACKSTATION_VM_MIRROR:-$(grep -hoE '^(URIs:|deb) *[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v security | head -n1 | awk '{print $2}' || true)}
mirror=${mirror:-http://deb.debian.org/debian}
case $arch in
  amd64) kernel=linux-image-amd64 ;;
  arm64) kernel=linux-image-arm64 ;;
  *) echo "build-image.sh: unknown arch $arch" >&2; exit 2 ;;
esac
rm -rf "$out.tmp"; mkdir -p "$out.tmp/root"
start=$(date +%s)
# Packages: systemd as PID 1 with udev, the guest's Python 3.11 (the venv's interpreter), what the
# wheel's dependencies load at run time (libxkbcommon), and the tools the scenario uses.
mmdebstrap --variant=apt --architectures="$arch" --components=main \
  --include=systemd-sysv,udev,kmod,dbus,python3,python3-venv,"$kernel",initramfs-tools,zstd,libxkbcommon0,tzdata,procps,sudo,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='force-confold' --dpkgopt='force-confdef' \
  --essential-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"; printf "MODULES=list\nCOMPRESS=zstd\n" > "$1/etc/initramfs-tools/conf.d/ci.conf"; printf "virtio_pci\nvirtio_blk\nvirtio_mmio\next4\n" > "$1/usr/share/initramfs-tools/modules.d/ci"' \
  --customize-hook="$here/customize.sh \"\$1\"" \
  bookworm "$out.tmp/root" "$mirror" >&2
cp "$out.tmp"/root/boot/vmlinuz-* "$out.tmp/vmlinuz"
cp "$out.tmp"/root/boot/initrd.img-* "$out.tmp/initrd.img"
truncate -s 4G "$out.tmp/rootfs.img"
mkfs.ext4 -q -F -L root -d "$out.tmp/root" "$out.tmp/rootfs.img"
rm -rf "$out.tmp/root"
echo "built in $(( $(date +%s) - start )) s" > "$out.tmp/done"
rm -rf "$out"; mv "$out.tmp" "$out"
echo "image: $(cat "$out/done")" >&2
echo "$out"
