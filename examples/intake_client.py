#!/usr/bin/env python3
"""Example: a POS-side client of central's intake API, standard library only.

    INTAKE=http://127.0.0.1:5580 TOKEN_FILE=/etc/packstation-central/intake.token \
        python3 examples/intake_client.py orders ORDERS.json

Commands as examples/intake.sh: orders|inventory|badges FILE (or - for stdin), status ID,
withdraw ID, health. What it shows:

- every write carries an `Idempotency-Key` ($IDEMPOTENCY_KEY, or a new UUID per change) and
  every retry of that change the same key: retrying after a timeout or a dropped connection can
  never apply it twice, and the retry gets the first answer (`Idempotent-Replayed: true`);
- retries with back-off on connection errors and 5xx, never on 4xx;
- a 400 names the field (`path`, a JSON path such as `$[3].lines[0]`): fix the record, resend;
- order ids are percent-encoded in paths.

Prints central's JSON answer; exits 0 on 2xx, 1 otherwise. Schemas: docs/schemas/openapi.json.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

INTAKE = os.environ.get("INTAKE", "http://127.0.0.1:5580")
TOKEN_FILE = os.environ.get("TOKEN_FILE", "/etc/packstation-central/intake.token")
WRITES = {"orders": "POST", "inventory": "PUT", "badges": "PUT"}


def call(
    method: str, path: str, body: bytes | None = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": "Bearer " + Path(TOKEN_FILE).read_text().strip()}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if key is not None:
        headers["Idempotency-Key"] = key
    for attempt in range(5):
        request = urllib.request.Request(INTAKE + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return exc.code, json.loads(exc.read() or b"null")
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            pass
        time.sleep(0.5 * 2**attempt)  # same key: a retry is safe even if the first got through
    sys.exit(f"intake_client: {INTAKE} did not answer")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    what = argv[0]
    if what in WRITES:
        raw = sys.stdin.buffer.read() if argv[1] == "-" else Path(argv[1]).read_bytes()
        key = os.environ.get("IDEMPOTENCY_KEY") or str(uuid.uuid4())  # one per change
        status, answer = call(WRITES[what], f"/v1/{what}", raw, key)
    elif what in ("status", "withdraw"):
        path = "/v1/orders/" + urllib.parse.quote(argv[1], safe="")
        status, answer = call("GET" if what == "status" else "DELETE", path)
    elif what == "health":
        with urllib.request.urlopen(INTAKE + "/v1/health", timeout=10) as resp:
            status, answer = resp.status, json.loads(resp.read())
    else:
        print(f"intake_client: unknown command {what}", file=sys.stderr)
        return 2
    print(json.dumps(answer))
    if status == 400 and isinstance(answer, dict) and answer.get("path"):
        print(f"intake_client: refused at {answer['path']}: fix that record", file=sys.stderr)
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
