"""The dashboard in a real browser (Debian's chromium + chromium-driver, driven by Selenium),
loaded against a live central while `packstation simulate --dashboard` packs a day."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

pytest.importorskip("selenium")
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
DAY_S = 240  # the most a simulated day may take (under the suite's 300 s pytest-timeout)
ORDERS = 13  # the fewest orders in which every incident of the day happens (edge/sim/data.py)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver"
    ),
]
URL = re.compile(rb"packstation: central dashboard: (http://\S+)")


RUNNING = re.compile(rb"packstation: dashboard running at (http://\S+)")


def _read_until(stream: IO[bytes] | None, pattern: re.Pattern[bytes], timeout: float) -> str:
    """Read a pipe until `pattern` appears (the progress bar on stderr writes \\r lines)."""
    assert stream is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.5)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            if m := pattern.search(seen):
                return m.group(1).decode()
    raise AssertionError(f"{pattern.pattern!r} not written; it wrote: {seen[-2000:]!r}")


@pytest.fixture
def day(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    out = tmp_path / "day"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge", "simulate", "--orders", str(ORDERS), "--out", str(out),
         "--dashboard"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = _read_until(proc.stderr, URL, 120)
        yield proc, url, out
    finally:
        if proc.poll() is None:  # mid-day (a failed assertion) too: every service stops
            proc.send_signal(signal.SIGTERM)
        said, complained = proc.communicate(timeout=60)  # also closes the pipes
        # what simulate said after the dashboard's address (pytest shows it when the test fails)
        sys.stdout.write(said.decode(errors="replace")[-4000:])
        sys.stdout.write(complained.decode(errors="replace")[-4000:])


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _rows(driver: webdriver.Chrome, table: str) -> list[list[str]]:
    """The table's cells as rendered, read in one go (the page re-renders on every update)."""
    rows: list[list[str]] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map(tr => [...tr.cells].map(td => td.textContent));",
        f"#{table} tbody tr",
    )
    return rows


def _stored(out: Path, sql: str) -> list[Any]:
    with sqlite3.connect(out / "central" / "central.sqlite3") as conn:
        return list(conn.execute(sql).fetchall())


def _land(browser: webdriver.Chrome, url: str, landing: str, timeout: float) -> None:
    """Open the token link until it lands on the page: the day kills central for a few orders
    seconds after it starts, and a load inside that outage gets the browser's error page."""
    deadline = time.monotonic() + timeout
    while True:
        browser.get(url)  # the token link: sets the cookie, lands on the page, opens the stream
        if browser.current_url == landing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert browser.current_url == landing


def test_dashboard_follows_a_simulated_day_live(
    browser: webdriver.Chrome, day: tuple[subprocess.Popen[bytes], str, Path]
) -> None:
    # the browser first: Chromium is up when the day starts, so the page loads before the outage
    proc, url, out = day
    origin = url.split("/dashboard/")[0]
    _land(browser, url, origin + "/dashboard/", 120)
    wait = WebDriverWait(browser, 120, poll_frequency=0.2)
    wait.until(
        lambda d: d.execute_script("return document.getElementById('link').textContent") == "live"
    )
    browser.execute_script("window.loadedOnce = true;")  # gone if the page ever reloads

    # the whole day arrives over the event stream: every order finished; simulate --dashboard
    # then keeps central up (the station daemon has stopped) and says where
    # a day's pace, not a timing: on a loaded 2-core CI machine it has taken over 120 s
    WebDriverWait(browser, DAY_S, poll_frequency=0.5).until(
        lambda d: len(_rows(d, "finished")) == ORDERS
    )
    assert _read_until(proc.stdout, RUNNING, 120) == url
    # central stays up from here (after its outage during the day): no token, no dashboard
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(origin + "/dashboard/api/state", timeout=10)
    assert refused.value.code == 401
    refused.value.close()
    wait.until(lambda d: [r[1] for r in _rows(d, "stations")] == ["offline"])
    assert browser.execute_script("return window.loadedOnce === true;")
    updates = int(browser.find_element(By.ID, "updates").text)
    assert updates > 2, "the page should have been updated live several times"

    stations = _rows(browser, "stations")
    assert len(stations) == 1 and stations[0][0] == "station-01" and stations[0][1] == "offline"
    (events,) = _stored(out, "SELECT COUNT(*) FROM events")[0]
    (last_type,) = _stored(out, "SELECT type FROM events ORDER BY gseq DESC LIMIT 1")[0]
    wait.until(
        lambda d: (
            d.execute_script("return document.getElementById('head-n').textContent") == str(events)
        )
    )
    assert stations[0][2].startswith(last_type + " #")
    finished = {row[0]: row[2] for row in _rows(browser, "finished")}
    statuses = {
        json.loads(body)["order_id"]: json.loads(body)["status"]
        for (body,) in _stored(out, "SELECT body FROM events WHERE type = 'order_status'")
    }
    assert finished == statuses and "cancelled" in finished.values()
    assert _rows(browser, "halts") == [["no halt waiting"]]  # every halt was cleared or cancelled
    assert _rows(browser, "queue") == [["no order queued"]]
    quarantined = sorted(
        json.loads(body)["uid"]
        for (body,) in _stored(out, "SELECT body FROM events WHERE type = 'quarantine'")
    )
    assert quarantined, "the scripted day quarantines packages"
    assert sorted(row[1] for row in _rows(browser, "pkg-quarantine")) == quarantined

    # the simulated day reports to its METRC emulator: the panel shows the bridge's queue by state
    # (central/statesys), as the store has it, once every sale is confirmed
    def statesys_as_stored() -> str:
        rows = _stored(out, "SELECT state, COUNT(*) FROM statesys_jobs GROUP BY state")
        return " · ".join(f"{state}: {n}" for state, n in sorted(rows))

    wait.until(
        lambda d: (
            d.find_element(By.ID, "statesys-status").text == statesys_as_stored()
            and "confirmed" in statesys_as_stored()
            and "failed" not in statesys_as_stored()
        )
    )
    lag = stations[0][7]
    assert lag.endswith(("ms", " s")), lag

    proc.send_signal(signal.SIGTERM)  # stops central with it
    proc.wait(30)
    # the day's own verdict (a loaded 2-core machine can time a scripted step out): the exit code
    # follows it, and the dashboard was checked against the store, not against the script
    failures = json.loads((out / "summary.json").read_text())["failures"]
    assert proc.returncode == (1 if failures else 0), failures
    with pytest.raises(urllib.error.URLError):  # central stopped with it
        urllib.request.urlopen(origin + "/dashboard/", timeout=5)
