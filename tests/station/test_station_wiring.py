"""The built-in ports in-process: seed files, the Rust-core verifier session, limits, labels."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from edge.label.content import seal_code_for
from edge.label.profile import LabelSection
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.limits import EngineLimits
from edge.station.wiring.printer import SpoolPrinter, label_fields_of, label_packages
from edge.station.wiring.privacy import profile_privacy
from edge.station.wiring.seed import SeedCentral
from edge.station.wiring.verifier import CoreVerifier
from edge.workflow.ports import LabelJob, Order, Pick
from tests.support.station import BADGES, tag, write_seed


def now() -> str:
    """The time now (read per call: a run can cross midnight)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


REPO = Path(__file__).resolve().parents[2]


def config(tmp: Path) -> StationConfig:
    write_seed(tmp / "seed")
    return StationConfig(station=StationSection(state_dir=str(tmp), seed_dir=str(tmp / "seed")))


def test_seed_files_give_badges_orders_queue_and_inventory(tmp_path: Path) -> None:
    central = SeedCentral.from_config(config(tmp_path))
    assert central.badge("BADGE-BOSS") is not None and central.badge("BADGE-BOSS").supervisor
    assert central.badge("BADGE-NOBODY") is None
    assert central.order("1042") is not None and central.order("9999") is None
    next_order = central.next_order()
    assert next_order is not None and next_order.order_id == "2001"  # the one assigned to us
    assert tag(1) in central.inventory() and len(central.inventory()) == 7
    central.order_finished("2001", "out_for_delivery")
    assert central.next_order() is None
    again = SeedCentral.from_config(config(tmp_path))  # remembered across restarts
    assert again.next_order() is None


def test_seed_files_are_reread_when_they_change_and_a_bad_one_keeps_the_last(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    central = SeedCentral.from_config(cfg)
    inventory = central.inventory()
    assert central.inventory() is inventory  # one index per file version
    orders = tmp_path / "seed/orders.json"
    new = [
        *json.loads(orders.read_text()),
        {
            "order_id": "5001",
            "channel": "pickup",
            "station": "station-01",
            "customer": {"id": "C-5", "name": "Ed"},
            "lines": [{"line": 1, "uid": tag(2)}],
        },
    ]
    central.order_finished("2001", "out_for_delivery")
    orders.write_text(json.dumps(new))
    os.utime(orders, ns=(1, 1))
    next_order = central.next_order()
    assert next_order is not None and next_order.order_id == "5001"
    (tmp_path / "seed/inventory.json").write_text('[{"Label": "x"')  # truncated
    assert central.inventory() is inventory


def test_no_seed_dir_is_an_empty_central(tmp_path: Path) -> None:
    central = SeedCentral(None, "station-01", tmp_path / "seed-finished.json")
    assert central.badge("BADGE-ALICE") is None and central.next_order() is None
    assert len(central.inventory()) == 0 and central.inventory_snapshot() == b"[]"


def _order(central: SeedCentral, order_id: str) -> Order:
    order = central.order(order_id)
    assert order is not None
    return order


def test_verifier_session_follows_the_workflows_accepted_picks(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    central = SeedCentral.from_config(cfg)
    verifier = CoreVerifier(cfg, central.inventory)
    order = _order(central, "1042")
    first = verifier.check(order, [], tag(1), now())
    assert first.verdict == "match" and first.line == 1 and first.uid == tag(1)
    # the workflow did not keep it (e.g. the commit failed): the session is rebuilt without it
    assert verifier.check(order, [], tag(1), now()).verdict == "match"
    picked = [Pick(line=1, uid=tag(1), raw=tag(1))]
    assert verifier.check(order, picked, tag(1), now()).verdict == "duplicate"
    # a fresh verifier (a restart) restores the picks from the journalled state
    assert CoreVerifier(cfg, central.inventory).check(order, picked, tag(1), now()).verdict == (
        "duplicate"
    )
    assert verifier.check(order, picked, "garbage", now()).verdict == "malformed"


def test_limits_count_prior_purchases_and_name_the_bucket(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    central = SeedCentral.from_config(cfg)
    limits = EngineLimits(cfg, central.inventory)
    picks = [Pick(line=1, uid=tag(4), raw=tag(4))]
    over = limits.check(_order(central, "3001"), picks, now())
    assert not over.allowed and over.reason
    bucket = next(b for b in over.buckets if b.name == "cannabis-infused products")
    assert bucket.used == 600 and bucket.limit == 500
    assert limits.check(_order(central, "2001"), picks, now()).allowed
    odd = msgspec.structs.replace(
        _order(central, "2001"),
        customer=msgspec.convert(
            {"id": "C", "class": "martian"}, type(_order(central, "2001").customer)
        ),
    )
    refused = limits.check(odd, picks, now())
    assert not refused.allowed and "cannot be checked" in refused.reason


def test_a_reprinted_label_is_the_same_label(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    central = SeedCentral.from_config(cfg)
    printer = SpoolPrinter(cfg, central.inventory, badges=central.badge)
    order = _order(central, "2001")
    picks = [Pick(line=1, uid=tag(4), raw=tag(4))]
    badge = BADGES[0]["code"]
    first = LabelJob(job_id="2001-label-1", order=order, picks=picks, agent=badge, at=now())
    second = msgspec.structs.replace(first, job_id="2001-label-2")
    label, _ = printer._label(first)
    assert seal_code_for(label) == seal_code_for(printer._label(second)[0])
    assert label.items[0].uid == tag(4) and label.customer_name == "Bo #C-9"
    # the agent is the badge record's display name, never the badge value
    assert label.agent_id == BADGES[0]["name"] and badge not in msgspec.json.encode(label).decode()
    assert seal_code_for(label).startswith("SEAL-2001-")


def test_the_verifier_holds_the_workflows_picks_not_those_an_order_came_with(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    central = SeedCentral.from_config(cfg)
    order = _order(central, "1042")
    came_with = msgspec.structs.replace(
        order, lines=[msgspec.structs.replace(order.lines[0], picked=[tag(1)]), *order.lines[1:]]
    )
    first = CoreVerifier(cfg, central.inventory).check(came_with, [], tag(1), now())
    assert (first.verdict, first.accepted) == ("match", True)


def test_a_label_reads_its_packages_container_fields_from_the_seed_inventory(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path)
    path = tmp_path / "seed/inventory.json"
    stock = json.loads(path.read_text())
    for pkg in stock:
        if pkg["Label"] == tag(4):
            pkg.update(HarvestDate="2026-09-01", LabName="North Lab", LabTestDate=20260910)
    path.write_text(json.dumps(stock))
    central = SeedCentral.from_config(cfg)
    # a field that is no string is not printed; the dates of the availability check stay apart
    assert central.label_fields(tag(4).lower()) == {
        "HarvestDate": "2026-09-01",
        "LabName": "North Lab",
    }
    assert central.label_fields(tag(1)) == {}
    packages = label_packages(central.inventory(), [tag(4), tag(1)], central.label_fields)
    assert packages[tag(4)].HarvestDate == "2026-09-01" and packages[tag(4)].LabName == "North Lab"
    assert packages[tag(4)].LabTestDate is None and packages[tag(1)].HarvestDate is None
    package = central.package(tag(4))
    assert package is not None and "HarvestDate" not in package
    assert label_fields_of({"LabBatch": "LB-1", "LabName": None}) == {"LabBatch": "LB-1"}
    assert label_fields_of(None) == {}


def test_the_privacy_port_reads_the_profile_once_per_day_and_again_when_it_changes(
    tmp_path: Path,
) -> None:
    labels = tmp_path / "labels"
    shutil.copytree(REPO / "config/labels", labels)
    cfg = StationConfig(
        station=StationSection(state_dir=str(tmp_path)),
        label=LabelSection(profiles_dir=str(labels)),
    )
    privacy = profile_privacy(cfg)
    assert privacy(now()) == "first_name_and_number"
    profile = labels / "IL.toml"
    text = profile.read_text()
    edited = text.replace('privacy = "first_name_and_number"', 'privacy = "full_name"')
    assert edited != text
    profile.write_text(edited)
    os.utime(profile, ns=(1, 1))
    assert privacy(now()) == "full_name"  # the edited file counts from the next call
    assert privacy("not a time") == "first_name_and_number"
    profile.unlink()
    assert privacy(now()) == "first_name_and_number"  # no profile: the stricter rule
