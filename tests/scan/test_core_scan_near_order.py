"""Near-miss verdicts over what the order can accept, against a brute-force reference: every
inventory tag compared with the scan, kept when an open line would take it (its best line: UID
lines first, then SKU lines with a batch, then SKU lines; earlier lines first), plus open UID
lines the vault does not know; ranked by distance, line kind and tag; at most `candidates`.

Small SKUs (compared package by package) and large ones (the trie walked with the lines'
acceptance test) are both exercised; so are picked packages, full lines and fixed batches.
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from edge.scan import Inventory, OrderCheck
from tests.support.core_scan import TODAY, order, package

HEX = "0123456789ABCDEF"
# A slip may also key a byte no tag holds (O for 0, a G): the walk counts an edit for each one.
SLIPS = HEX + "GOZ"


def brute(
    tags: dict[str, dict[str, Any]],
    lines: list[dict[str, Any]],
    filled: dict[int, int],
    picked: set[str],
    query: str,
    k: int,
    n: int,
) -> list[str]:
    q = query.upper()
    open_lines = [ln for ln in lines if filled.get(ln["line"], 0) < ln.get("quantity", 1)]

    def spec(ln: dict[str, Any]) -> int:
        return 0 if "uid" in ln else (1 if "batch" in ln else 2)

    def accepts(ln: dict[str, Any], tag: str, rec: dict[str, Any]) -> bool:
        if "uid" in ln:
            return bool(ln["uid"].upper() == tag)
        return bool(rec["Sku"] == ln["sku"] and ln.get("batch", rec["Batch"]) == rec["Batch"])

    found: list[tuple[int, int, str, int]] = []
    for tag, rec in tags.items():
        d = OSA.distance(tag, q)
        if not 0 < d <= k or tag in picked:
            continue
        taking = [(spec(ln), i, ln) for i, ln in enumerate(open_lines) if accepts(ln, tag, rec)]
        if taking:
            s, _, ln = min(taking, key=lambda t: (t[0], t[1]))
            found.append((d, s, tag, ln["line"]))
    for ln in open_lines:
        if "uid" in ln and ln["uid"].upper() not in tags:
            d = OSA.distance(ln["uid"].upper(), q)
            if 0 < d <= k:
                found.append((d, 0, ln["uid"].upper(), ln["line"]))
    found.sort()
    out: list[str] = []
    for c in found:
        if not out or out[-1] != c[2]:
            out.append(c[2])
    return out[:n]


def mutate(rng: random.Random, tag: str, edits: int) -> str:
    s = list(tag)
    for _ in range(edits):
        i = rng.randrange(len(s))
        op = rng.randrange(4)
        if op == 0:
            s[i] = rng.choice(SLIPS)
        elif op == 1 and i + 1 < len(s):
            s[i], s[i + 1] = s[i + 1], s[i]
        elif op == 2 and len(s) > 1:
            del s[i]
        else:
            s.insert(i, rng.choice(SLIPS))
    return "".join(s)


def run_case(rng: random.Random, size: int, skus: int, queries: int) -> int:
    """Checks `queries` scans; returns how many were near misses with several candidates."""
    prefix = "1A4060300002C9B"
    base = rng.randrange(16**6)
    labels = sorted({f"{prefix}{base + rng.randrange(size * 2):09X}" for _ in range(size)})
    if rng.random() < 0.25:  # tags of other lengths too (the index walks one length at a time)
        labels = sorted(
            {t[: rng.choice([22, 23, 24, 24, 24])] + "A" * rng.randrange(2) for t in labels}
        )
    records = {
        t: package(t, sku=f"S{rng.randrange(skus)}", batch=f"B{rng.randrange(2)}") for t in labels
    }
    lines: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(4)
        if kind == 0:
            lines.append({"uid": rng.choice(labels)})
        elif kind == 1:  # a UID the vault does not know
            lines.append({"uid": mutate(rng, rng.choice(labels), 1)})
        elif kind == 2:
            lines.append({"sku": f"S{rng.randrange(skus)}", "quantity": rng.randint(1, 3)})
        else:
            lines.append({"sku": f"S{rng.randrange(skus)}", "batch": "B1", "quantity": 2})
    doc = order(*lines)
    inventory = Inventory.from_json(json.dumps(list(records.values())).encode())
    candidates, k = rng.choice([1, 3, 5, 8]), rng.choice([1, 2, 2, 3])
    check = OrderCheck(
        json.dumps(doc).encode(), inventory, TODAY, near_distance=k, candidates=candidates
    )
    for _ in range(rng.randint(0, 4)):  # some accepted picks: picked tags, fuller lines
        check.scan(rng.choice(labels))
    numbered = doc["lines"]
    several = 0
    for _ in range(queries):
        source = rng.choice(labels + [ln["uid"] for ln in numbered if "uid" in ln])
        query = mutate(rng, source, rng.choice([1, 1, 2, 3]))
        named = {ln["uid"].upper() for ln in numbered if "uid" in ln}
        if query.upper() in records or query.upper() in named or not query.isalnum():
            continue  # a vault tag, or a line's own UID: no near-miss search
        filled = {line: len(tags) for line, _, tags in check.progress()}
        picked = {tag for _, tag, _, _ in check.picks()}
        want = brute(records, numbered, filled, picked, query, k, candidates)
        v = check.scan(query)
        if v.verdict in ("near_miss", "unknown"):
            assert v.candidates == want, (query, v.verdict, v.candidates, v.reason)
        assert v.verdict != "near_miss" or want
        several += v.verdict == "near_miss" and len(want) > 1
    return several


def test_small_and_large_skus_against_brute_force() -> None:
    rng = random.Random(7)
    several = sum(
        run_case(rng, rng.choice([40, 300, 900]), rng.choice([1, 2, 6]), 40) for _ in range(30)
    )
    assert several > 100  # the comparisons are not vacuous


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(1, 600), skus=st.integers(1, 4))
def test_near_miss_equals_brute_force(seed: int, size: int, skus: int) -> None:
    run_case(random.Random(seed), size, skus, 10)


def test_lines_with_and_without_a_batch_over_one_dense_range() -> None:
    """A line with a batch and SKU-only lines over one run of sequential serials (one index,
    walked once: a hit of a SKU-only line cannot stop the search for the batch line's), slips
    and swaps in the serial's last characters, short candidate lists: brute force's answers."""
    rng = random.Random(11)
    prefix = "1A4060300002C9B"
    checked = 0
    for case in range(12):
        base = rng.randrange(16**6)
        labels = [f"{prefix}{base + i:09X}" for i in range(3000)]
        records = {
            t: package(t, sku=f"S{i % 3}", batch=f"B{i // 7 % 2}") for i, t in enumerate(labels)
        }
        lines: list[dict[str, Any]] = [
            {"sku": "S0", "batch": "B1", "quantity": 3},
            {"sku": "S0", "quantity": 2},
            {"sku": "S1", "quantity": 2},
        ]
        doc = order(*lines)
        inventory = Inventory.from_json(json.dumps(list(records.values())).encode())
        candidates = [1, 2, 3, 5][case % 4]
        check = OrderCheck(
            json.dumps(doc).encode(), inventory, TODAY, near_distance=2, candidates=candidates
        )
        for tag in rng.sample(labels, 3):  # some picks: fuller lines, picked tags
            check.scan(tag)
        numbered = doc["lines"]
        for _ in range(40):
            chars = list(rng.choice(labels))
            for _ in range(rng.choice([1, 1, 2])):  # substitutions: a 24-character scan
                chars[len(chars) - 1 - rng.randrange(5)] = rng.choice(HEX + "G")
            if rng.random() < 0.3:  # or two neighbours swapped
                i = len(chars) - 2 - rng.randrange(4)
                chars[i], chars[i + 1] = chars[i + 1], chars[i]
            query = "".join(chars)
            if query in records:
                continue
            filled = {line: len(tags) for line, _, tags in check.progress()}
            picked = {t for _, t, _, _ in check.picks()}
            want = brute(records, numbered, filled, picked, query, 2, candidates)
            v = check.scan(query)
            assert v.verdict in ("near_miss", "unknown"), (query, v.verdict)
            assert list(v.candidates) == want, (query, v.candidates, want)
            checked += bool(want)
    assert checked > 300  # most scans have candidates to compare
