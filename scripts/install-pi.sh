#!/usr/bin/env bash
# Install, update or remove packstation on a fresh Raspberry Pi OS bookworm (or Debian 12) machine.
#
#   sudo scripts/install-pi.sh [--wheel FILE] [--role station|central|both]
#   sudo scripts/install-pi.sh --update [--wheel FILE]
#   sudo scripts/install-pi.sh --uninstall [--purge]
#
# Install: Debian packages (apt), a virtual environment in /opt/packstation/venv holding the wheel
# and its dependencies, /usr/local/bin/packstation, then `packstation init ROLE` (configuration in
# /etc, keys, intake token, units, udev rules, service user), `systemctl enable --now` and
# `packstation doctor`. Running it again is safe: edited configuration files are kept.
# Update: the new wheel, `packstation init` again (each edited file is kept and its difference to
# the new template shown), units and udev rules reloaded, the running services restarted. The
# journal (/var/lib/packstation) and central's store are never touched.
# Uninstall: stops and disables the units, removes them, the udev rules, the sysusers file and
# /opt/packstation. Configuration, keys and the journal stay (--purge also removes /etc/packstation
# and /etc/packstation-central; the journal is a compliance record and is never removed: take a
# `packstation backup` first and delete /var/lib/packstation* yourself if you must).
#
# Options:
#   --wheel FILE       the packstation wheel (default: the newest dist/packstation-*.whl for this
#                      machine's architecture beside this script)
#   --role ROLE        station (default), central, or both (one machine running both; the station
#                      is enrolled with the local central)
#   --update           update an existing installation (role read from /opt/packstation/role)
#   --uninstall        remove the installation; --purge also removes configuration and keys
#   --no-apt           skip apt-get (the packages listed below are already installed, or offline)
#   --find-links DIR   give pip a local directory of wheels; with --no-index pip uses only it
#   --no-index         never contact a package index (offline: every dependency in --find-links)
#   --no-start         enable the units but do not start them now
# Exit status: 0 done (doctor's own findings are printed, not fatal), 2 bad usage, 1 a step failed
# (a service that does not start counts: the checks still run first).
set -euo pipefail

PREFIX=/opt/packstation
VENV="$PREFIX/venv"
BIN=/usr/local/bin/packstation
ROLE_FILE="$PREFIX/role"

ROLE="" WHEEL="" MODE=install APT=1 START=1 PURGE=0 START_FAILED=0
PIP_OPTS=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }
die() { echo "install-pi: $*" >&2; exit 1; }
step() { printf '\n== %s\n' "$*"; }

while (($#)); do
    case "$1" in
        --wheel) WHEEL=${2:?--wheel needs a file}; shift ;;
        --wheel=*) WHEEL=${1#*=} ;;
        --role) ROLE=${2:?--role needs station, central or both}; shift ;;
        --role=*) ROLE=${1#*=} ;;
        --update) MODE=update ;;
        --uninstall) MODE=uninstall ;;
        --purge) PURGE=1 ;;
        --no-apt) APT=0 ;;
        --no-start) START=0 ;;
        --find-links) PIP_OPTS+=(--find-links "${2:?--find-links needs a directory}"); shift ;;
        --find-links=*) PIP_OPTS+=(--find-links "${1#*=}") ;;
        --no-index) PIP_OPTS+=(--no-index) ;;
        -h|--help) usage 0 ;;
        *) echo "install-pi: unknown option $1" >&2; usage 2 >&2 ;;
    esac
    shift
done

[[ $(id -u) == 0 ]] || die "run as root (sudo $0 ...)"
if [[ -z $ROLE && -f $ROLE_FILE ]]; then ROLE=$(<"$ROLE_FILE"); fi
ROLE=${ROLE:-station}
case "$ROLE" in station|central|both) ;; *) echo "install-pi: --role must be station, central or both" >&2; exit 2 ;; esac
roles() { case "$ROLE" in both) echo station central ;; *) echo "$ROLE" ;; esac; }
units() { local r; for r in $(roles); do echo "packstation-$r.service"; done; }
has_systemd() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }

# ---------------------------------------------------------------------------------------------
uninstall() {
    step "stopping and removing the units"
    local u
    for u in packstation-station.service packstation-central.service; do
        if has_systemd; then systemctl disable --now "$u" 2>/dev/null || true; fi
        rm -f "/etc/systemd/system/$u"
    done
    rm -f /etc/udev/rules.d/70-packstation.rules /usr/lib/sysusers.d/packstation.conf
    if has_systemd; then systemctl daemon-reload; fi
    if command -v udevadm >/dev/null; then udevadm control --reload 2>/dev/null || true; fi
    rm -f "$BIN"
    rm -rf "$PREFIX"
    if ((PURGE)); then
        step "removing configuration and keys"
        rm -rf /etc/packstation /etc/packstation-central
    fi
    echo
    echo "packstation removed. Kept:"
    ((PURGE)) || echo "  /etc/packstation, /etc/packstation-central (configuration, keys; --purge removes them)"
    for d in /var/lib/packstation /var/lib/packstation-central /var/lib/private/packstation-central; do
        [[ -e $d ]] && echo "  $d (journal / store: never removed by this script)"
    done
    getent passwd packstation >/dev/null && echo "  the system user packstation (userdel packstation)"
    exit 0
}
[[ $MODE == uninstall ]] && uninstall

# ---------------------------------------------------------------------------------------------
if [[ -z $WHEEL ]]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    arch=$(uname -m)
    WHEEL=$(ls -t "$here"/dist/packstation-*"$arch".whl 2>/dev/null | head -n1 || true)
    [[ -n $WHEEL ]] || die "no wheel given and none for $arch in dist/: pass --wheel FILE (scripts/build-wheels.sh builds them)"
fi
[[ -f $WHEEL ]] || die "$WHEEL: no such wheel"
WHEEL=$(readlink -f "$WHEEL")
# An editable wheel (`pip install -e .`, maturin develop) holds only a .pth pointing at a checkout.
if ! python3 -c 'import sys, zipfile; sys.exit("edge/__init__.py" not in zipfile.ZipFile(sys.argv[1]).namelist())' "$WHEEL"; then
    die "$WHEEL is not a release wheel (an editable one?): build one with scripts/build-wheels.sh"
fi
if [[ $MODE == update && ! -x $VENV/bin/packstation ]]; then
    die "--update: no installation in $VENV (run without --update first)"
fi

if ((APT)); then
    step "Debian packages"
    pkgs=(python3 python3-venv python3-pip ca-certificates)
    if [[ $ROLE != central ]]; then
        # evdev and xkbcommon compile a small C extension (no binary wheels on PyPI); libusb for
        # usb:VID:PID printers, libxkbcommon for the scanner's keyboard layouts.
        pkgs+=(python3-dev build-essential pkg-config libxkbcommon-dev libxkbcommon0 libusb-1.0-0 udev)
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
fi

step "virtual environment $VENV"
install -d -m 0755 "$PREFIX"
if [[ ! -x $VENV/bin/python ]]; then
    python3 -m venv "$VENV"
fi
extra=""
[[ $ROLE != central ]] && extra="[station]"
# The wheel itself first (same version number on a rebuild: force it), then its dependencies.
env -u PIP_REQUIRE_VIRTUALENV "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_OPTS[@]}" \
    --force-reinstall --no-deps "$WHEEL"
env -u PIP_REQUIRE_VIRTUALENV "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_OPTS[@]}" \
    "$WHEEL$extra"
ln -sf "$VENV/bin/packstation" "$BIN"
echo "$ROLE" > "$ROLE_FILE"
"$BIN" --version

step "packstation init ($ROLE)"
# init writes what is missing, keeps what was edited (printing the difference to the template),
# creates keys and the intake token, installs units, udev rules and the service user.
for r in $(roles); do
    "$BIN" init "$r" --no-doctor
done
if [[ $ROLE == both ]]; then
    # One machine: the station's public key goes into central's allow-list (named by station id).
    station_id=$("$VENV/bin/python" -c 'import tomllib,sys; print(tomllib.load(open(sys.argv[1],"rb"))["station"]["id"])' /etc/packstation/station.toml)
    if [[ ! -f /etc/packstation-central/stations/$station_id.key ]]; then
        "$BIN" central --config /etc/packstation/central.toml allow /etc/packstation/keys/station.key --name "$station_id"
    fi
fi

if has_systemd; then
    step "systemd"
    systemctl daemon-reload
    if command -v udevadm >/dev/null; then
        udevadm control --reload
        udevadm trigger --action=add --subsystem-match=input --subsystem-match=tty \
            --subsystem-match=usbmisc --subsystem-match=usb --subsystem-match=gpio --subsystem-match=leds || true
    fi
    mapfile -t us < <(units)
    systemctl enable "${us[@]}"
    for u in $( ((START)) && printf '%s\n' "${us[@]}" | sort ); do   # central before the station
        if [[ $MODE == update ]]; then verb=try-restart; else verb=restart; fi
        if [[ $u == packstation-station.service && ! -f /etc/packstation/keys/central.key ]]; then
            echo "install-pi: $u enabled, not started: it needs central's public key first"
            echo "  (docs/install.md step 7: /etc/packstation/keys/central.key), then: systemctl start $u"
            continue
        fi
        if ! systemctl "$verb" "$u"; then
            echo "install-pi: $u did not start: systemctl status $u; journalctl -u $u" >&2
            systemctl --no-pager status "$u" || true
            START_FAILED=1
        fi
    done
else
    echo "(no systemd running: units installed but not enabled or started)"
fi

step "checks"
rc=0
if [[ $ROLE != station ]]; then
    "$BIN" config check /etc/packstation/central.toml || rc=$?
fi
if [[ $ROLE != central ]]; then
    "$BIN" doctor --config /etc/packstation/station.toml || rc=$?
fi
echo
if ((rc)); then
    echo "install-pi: installed; the checks above report problems (exit $rc): fix each FAIL line"
else
    echo "install-pi: installed and checked"
fi
echo "Configuration: /etc/packstation (docs/install.md). Update: $0 --update --wheel NEW.whl"
if ((START_FAILED)); then
    echo "install-pi: a service failed to start (see above)" >&2
    exit 1
fi
exit 0
