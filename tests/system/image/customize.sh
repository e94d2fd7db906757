#!/bin/sh
# mmdebstrap customize hook of build-image.sh: $1 is the guest root.
set -eu
r=$1
here=$(dirname "$0")
echo packstation-vm > "$r/etc/hostname"
echo "127.0.1.1 packstation-vm" >> "$r/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$r/etc/fstab"
# A fixed machine id: the pristine image does not run first-boot presets at every boot.
echo 5e1f0c2a9d4b4c7e8f0a1b2c3d4e5f60 > "$r/etc/machine-id"
sed -i 's/^root:[^:]*:/root::/' "$r/etc/shadow"
install -m 0755 "$here/ci-runner" "$r/usr/local/sbin/ci-runner"
install -m 0644 "$here/ci-runner.service" "$r/etc/systemd/system/ci-runner.service"
ln -sf /etc/systemd/system/ci-runner.service "$r/etc/systemd/system/multi-user.target.wants/ci-runner.service"
for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer; do
  ln -sf /dev/null "$r/etc/systemd/system/$t"
done
# Console autologin on the serial port, for a debugging boot (run_vm.py --shell).
mkdir -p "$r/etc/systemd/system/serial-getty@.service.d"
printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200 %%I $TERM\n' \
  > "$r/etc/systemd/system/serial-getty@.service.d/autologin.conf"
