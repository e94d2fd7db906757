#!/usr/bin/env bash
# Stand-in for scripts/install-pi.sh while the checkout has none (same options, the subset the
# system test uses): docs/install.md steps 3, 7 and 9 for one machine that runs central and a
# station, from the wheel and the repository files beside it.
#   install-fallback.sh --wheel FILE --role both --no-apt --no-start [--find-links DIR] [--no-index]
# FILES (environment): the directory holding the repository's config/ and systemd/.
set -euo pipefail
WHEEL="" ROLE=station
PIP_OPTS=()
while (($#)); do
  case "$1" in
    --wheel) WHEEL=$2; shift ;;
    --role) ROLE=$2; shift ;;
    --no-apt|--no-start) ;;
    --find-links) PIP_OPTS+=(--find-links "$2"); shift ;;
    --no-index) PIP_OPTS+=(--no-index) ;;
    *) echo "install-fallback: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
files=${FILES:?FILES: the directory with config/ and systemd/}
[ -f "$WHEEL" ] || { echo "install-fallback: no wheel $WHEEL" >&2; exit 1; }
VENV=/opt/packstation/venv
python3 -m venv "$VENV"
env -u PIP_REQUIRE_VIRTUALENV "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_OPTS[@]}" "$WHEEL"
ln -sf "$VENV/bin/packstation" /usr/local/bin/packstation
packstation --version
install -m 0644 "$files/systemd/packstation.sysusers" /usr/lib/sysusers.d/packstation.conf
systemd-sysusers
install -d -m 0755 /etc/packstation /etc/packstation-central /etc/packstation-central/stations /etc/packstation-central/subscribers
install -d -m 0700 /etc/packstation/keys
cp -r "$files/config/limits" "$files/config/warnings" /etc/packstation/
install -m 0644 "$files/config/udev/70-packstation.rules" /etc/udev/rules.d/
if [ "$ROLE" != central ]; then
  install -m 0644 "$files/config/station.toml" /etc/packstation/station.toml
  install -m 0644 "$files/systemd/packstation-station.service" /etc/systemd/system/
  (cd /etc/packstation/keys && [ -f station.key_secret ] || packstation keys new station)
fi
if [ "$ROLE" != station ]; then
  install -m 0644 "$files/config/central.toml" /etc/packstation/central.toml
  install -m 0644 "$files/systemd/packstation-central.service" /etc/systemd/system/
  (cd /etc/packstation/keys && [ -f central.key_secret ] || packstation keys new central)
fi
systemctl daemon-reload
udevadm control --reload
