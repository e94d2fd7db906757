"""Host side of the full-system test: one Debian bookworm VM (QEMU, TCG), the product inside it.

    python tests/system/vm.py [--arch amd64|arm64] [--wheel FILE] [--orders N] [--keep DIR]

What it does, in order (each step's time is printed):
1. host packages (tests/system/host-setup.sh: QEMU, mmdebstrap, e2fsprogs, zstd);
2. the guest image, built once and cached outside the checkout
   (tests/system/image/build-image.sh: ~/.cache/packstation-vm/<arch>-bookworm-<hash>);
3. the wheel built from this checkout (`pip wheel`, maturin release build) and a wheelhouse of its
   dependencies for the guest's CPython 3.11, cached by the hash of the sources;
4. a share for the guest's 9p mount: the scenario, the repository's config/, systemd/ and install
   script, the wheel, the day's orders (edge.sim.data);
5. boots a copy-on-write overlay of the image with the project's scale emulator
   (drivers/scale/sim.py) on the host behind QEMU's usb-serial (an FTDI 0403:6001 in the guest)
   and a control port (guest ttyS1) through which the guest sets the weight on the pan; the
   guest's power cut (sysrq b) reboots the same QEMU on the same disk;
6. waits for the guest to power off and returns the scenario's PASS/FAIL lines.

Exit status: 0 all checks passed, 1 a check failed, 77 the host cannot run it (not root, no
/dev/... or no usable QEMU), 2 a set-up step failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = Path(os.environ.get("PACKSTATION_VM_CACHE", Path.home() / ".cache" / "packstation-vm"))
WHEEL_SOURCES = (
    "pyproject.toml",
    "Cargo.toml",
    "Cargo.lock",
    "core_rs",
    "edge",
    "central",
    "drivers",
    "config",
    "systemd",
    "README.md",
    "LICENSE",
)


class Skip(Exception):
    """The host cannot run the system test (the reason is the message)."""


def log(msg: str) -> None:
    print(f"system-test: {msg}", file=sys.stderr, flush=True)


def cannot_run() -> str | None:
    """Why this host cannot run the system test, or None."""
    if sys.platform != "linux":
        return "not Linux"
    if os.geteuid() != 0:
        return "not root (the test installs QEMU and builds a root file system)"
    if not Path("/usr/bin/apt-get").exists() and not shutil.which("qemu-system-x86_64"):
        return "no apt-get to install QEMU and no qemu-system-x86_64"
    return None


def sh(
    *cmd: str | Path, stdout: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], check=True, text=True, stdout=stdout, env=env)


def sources_hash() -> str:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *WHEEL_SOURCES],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    digest = hashlib.sha256()
    for name in sorted(files):
        path = ROOT / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_wheel(arch: str) -> tuple[Path, Path]:
    """The wheel of this checkout and its dependencies' wheelhouse, cached by the sources' hash."""
    if arch != "amd64":
        raise OSError("build_wheel: only amd64 is built here; pass --wheel and --wheelhouse")
    if sys.version_info[:2] != (3, 11):
        raise OSError(
            "build_wheel: the wheelhouse is for the guest's CPython 3.11 (Debian 12): run vm.py "
            f"with a 3.11 interpreter, not {sys.version.split()[0]}"
        )
    out = CACHE / "wheels" / f"{arch}-{sources_hash()}"
    wheel_dir, house = out / "wheel", out / "wheelhouse"
    if not (out / "done").exists():
        shutil.rmtree(out, ignore_errors=True)
        # one target directory per checkout: maturin copies the library from a fixed path in
        # it, so two checkouts building at once must not share one
        checkout = hashlib.sha256(str(ROOT.resolve()).encode()).hexdigest()[:12]
        env = {**os.environ, "CARGO_TARGET_DIR": str(CACHE / "cargo-target" / checkout)}
        env.pop("PIP_REQUIRE_VIRTUALENV", None)
        start = time.monotonic()
        sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheel_dir, ROOT, env=env)
        wheel = next(wheel_dir.glob("packstation-*.whl"))
        log(f"wheel {wheel.name} built in {time.monotonic() - start:.0f} s")
        start = time.monotonic()
        sh(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "-w",
            house,
            f"{wheel}{extras(wheel)}",
            env=env,
        )
        (house / wheel.name).unlink(missing_ok=True)
        log(f"wheelhouse built in {time.monotonic() - start:.0f} s")
        (out / "done").write_text("")
    return next(wheel_dir.glob("packstation-*.whl")), house


def extras(wheel: Path) -> str:
    """`[a,b]`: the wheel's extras a deployment installs (not dev)."""
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Provides-Extra:")]
    keep = [n for n in names if n not in ("dev", "test", "docs", "postgres")]
    return f"[{','.join(keep)}]" if keep else ""


def write_day(day: Path, n_orders: int) -> None:
    """The day's vault, orders and badges, as the project's simulator generates them."""
    sys.path.insert(0, str(ROOT))
    from edge.sim import data as simdata

    rng = random.Random(23)
    now = datetime.now(ZoneInfo("America/Chicago")).replace(microsecond=0)
    vault = simdata.generate_vault(rng, now.date(), per_batch=12)
    plan = simdata.generate_day(rng, vault, now, n_orders)
    day.mkdir(parents=True)
    orders = [{**p.order, "station": "station-01"} for p in plan]
    (day / "inventory.json").write_text(json.dumps(vault.packages, indent=1))
    (day / "orders.json").write_text(json.dumps(orders, indent=1))
    # the seed file's badge entries name the code `code` (docs/station.md), BADGES.json `badge`
    badges = [
        {"code": b["badge"], **{k: v for k, v in b.items() if k != "badge"}}
        for b in simdata.badges(now)
    ]
    (day / "badges.json").write_text(json.dumps(badges, indent=1))
    picks = [{"order_id": p.order["order_id"], "picks": p.picks} for p in plan]
    (day / "plan.json").write_text(json.dumps(picks, indent=1))


def make_share(share: Path, wheel: Path, house: Path, n_orders: int) -> None:
    shutil.copytree(HERE / "guest", share, dirs_exist_ok=True)
    files = share / "files"
    for name in ("config", "systemd"):
        shutil.copytree(ROOT / name, files / name)
    if (ROOT / "scripts" / "install-pi.sh").exists():
        (files / "scripts").mkdir(parents=True)
        shutil.copy2(ROOT / "scripts" / "install-pi.sh", files / "scripts" / "install-pi.sh")
    (share / "wheel").mkdir()
    shutil.copy2(wheel, share / "wheel" / wheel.name)
    shutil.copytree(house, share / "wheelhouse")
    write_day(share / "day", n_orders)
    (share / "out").mkdir()


class ScaleControl(threading.Thread):
    """The guest's ttyS1 (a QEMU socket chardev connecting here): `place MG` -> `ok MG`."""

    def __init__(self, path: Path, scale: object) -> None:
        super().__init__(daemon=True, name="scale control")
        self.scale = scale
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.commands: list[str] = []

    def run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            buf = b""
            while chunk := conn.recv(4096):
                buf += chunk
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    text = line.decode(errors="replace").strip()
                    words = text.split()
                    if len(words) == 2 and words[0] == "place" and words[1].lstrip("-").isdigit():
                        self.scale.place(int(words[1]))  # type: ignore[attr-defined]
                        self.commands.append(text)
                        conn.sendall(f"ok {words[1]}\n".encode())
                    elif text:
                        conn.sendall(f"error {text!r}\n".encode())
            conn.close()


def qemu_command(
    arch: str,
    image: Path,
    disk: Path,
    share: Path,
    scale_pty: str,
    ctl: Path,
    console: Path,
    timeout: int,
) -> list[str]:
    append = (
        "root=/dev/vda rw panic=-1 quiet loglevel=3 systemd.show_status=0 mitigations=off "
        f"cryptomgr.notests ci.run=1 ci.timeout={timeout}"
    )
    if arch == "amd64":
        cmd = ["qemu-system-x86_64", "-M", "q35", "-cpu", "Haswell-noTSX"]
        append = "console=ttyS0 ci.ctl=ttyS1 " + append
        serial_extra = ["-serial", "chardev:ctl"]
    else:
        cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72"]
        append = "console=ttyAMA0 ci.ctl=ttyS0 " + append
        # virt has one PL011 (the console): the control port is a PCI 16550 (ttyS0 there)
        serial_extra = ["-device", "pci-serial,chardev=ctl"]
    # fmt: off
    return [
        *cmd, "-accel", "tcg,thread=multi", "-smp", "2", "-m", "2048", "-nodefaults",
        "-display", "none", "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
        "-append", append,
        "-drive", f"file={disk},if=virtio,format=qcow2,cache=unsafe",
        "-virtfs", f"local,path={share},mount_tag=ci,security_model=none,id=ci",
        "-device", "virtio-rng-pci", "-nic", "none",
        "-chardev", f"file,id=con,path={console}", "-serial", "chardev:con",
        "-chardev", f"socket,id=ctl,path={ctl}", *serial_extra,
        "-device", "qemu-xhci,id=xhci",
        "-chardev", f"serial,id=scale,path={scale_pty}",
        "-device", "usb-serial,bus=xhci.0,chardev=scale",
    ]
    # fmt: on


class Timer:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lines: list[str] = []

    def mark(self, what: str) -> None:
        self.lines.append(f"{what}: {time.monotonic() - self.t0:.0f} s")
        log(self.lines[-1])


def prepare(args: argparse.Namespace, timer: Timer) -> tuple[Path, Path, Path]:
    """Host packages, the cached image, the wheel, the per-run share and disk: (image, work, share)."""
    sh(HERE / "host-setup.sh", *(["--arm64"] if args.arch == "arm64" else []))
    timer.mark("host packages")
    built = sh(HERE / "image" / "build-image.sh", args.arch, stdout=subprocess.PIPE)
    image = Path(built.stdout.strip().splitlines()[-1])
    timer.mark(f"image {image.name}")
    if args.wheel:
        wheel, house = Path(args.wheel), Path(args.wheelhouse)
    else:
        wheel, house = build_wheel(args.arch)
    timer.mark(f"wheel {wheel.name}")
    work = Path(tempfile.mkdtemp(prefix="packstation-vm-"))
    share = work / "share"
    make_share(share, wheel, house, args.orders)
    disk = work / "disk.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image / "rootfs.img", disk)
    timer.mark("share and disk ready")
    return image, work, share


def boot(args: argparse.Namespace, image: Path, work: Path, share: Path) -> None:
    """Boot the guest with the host's scale emulator attached; return once it powered off."""
    sys.path.insert(0, str(ROOT))
    from drivers.scale.sim import SimScale

    scale = SimScale("mt-sics", weight_mg=0).start()
    ctl = ScaleControl(work / "ctl.sock", scale)
    ctl.start()
    console = share / "out" / "console.log"
    cmd = qemu_command(
        args.arch, image, work / "disk.qcow2", share, scale.slave_path, work / "ctl.sock",
        console, args.timeout,
    )  # fmt: skip
    (work / "qemu.cmd").write_text(" ".join(cmd) + "\n")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + args.timeout + 300
        while proc.poll() is None:
            text = console.read_text(errors="replace") if console.exists() else ""
            if "Kernel panic" in text:
                log("guest kernel panic")
                break
            if time.monotonic() > deadline:
                log("guest did not power off in time")
                break
            time.sleep(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        scale.stop()
        ctl.listener.close()


def report(out: Path, timer: Timer) -> bool:
    """Print the guest's results and timings; whether every check passed."""

    def read(name: str) -> str:
        path = out / name
        return path.read_text(errors="replace") if path.exists() else ""

    results = read("results.txt")
    print(results + read("timings.txt") + "\n".join(timer.lines))
    guest_rc = read("rc").strip()
    passed = guest_rc == "0" and "FAIL" not in results and "PASS" in results
    if not passed:
        log(f"guest rc={guest_rc!r}; the end of the scenario's log:")
        print(read("scenario.log")[-4000:], file=sys.stderr)
    return passed


def run(args: argparse.Namespace) -> int:
    reason = cannot_run()
    if reason:
        raise Skip(reason)
    timer = Timer()
    image, work, share = prepare(args, timer)
    boot(args, image, work, share)
    timer.mark("guest powered off")
    passed = report(share / "out", timer)
    if args.keep:
        shutil.rmtree(args.keep, ignore_errors=True)
        shutil.copytree(share / "out", args.keep)
        log(f"guest output in {args.keep}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if passed else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=["amd64", "arm64"], default="amd64")
    parser.add_argument("--wheel", help="a built wheel (default: build this checkout's)")
    parser.add_argument("--wheelhouse", help="with --wheel: its dependencies' wheels")
    parser.add_argument("--orders", type=int, default=6, help="orders in the day (default 6)")
    parser.add_argument("--timeout", type=int, default=1500, help="guest time limit, seconds")
    parser.add_argument("--keep", help="copy the guest's output (logs, journal) to this directory")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Skip as exc:
        log(f"skipped: {exc}")
        return 77
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"set-up failed: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
