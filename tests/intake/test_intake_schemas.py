"""The published schemas: generated from the structs, the same as docs/schemas/, and meaningful."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import pytest

from edge.cli import run
from edge.cli.cmd_schema import render
from edge.common import events, feed

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("which", ["events", "intake", "openapi"])
def test_docs_schemas_are_current(which: str, capsys: Any) -> None:
    path = REPO / "docs" / "schemas" / f"{which}.json"
    fix = f"run: packstation schema {which} > docs/schemas/{which}.json"
    assert path.read_text() == render(which), f"{path} is stale; {fix}"
    assert run(["schema", which]) == 0
    assert capsys.readouterr().out == path.read_text()


def test_every_event_type_the_workflow_records_has_a_struct() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "edge" / "workflow").glob("*.py"))
    recorded = set(re.findall(r'run\.record\(\s*"([a-z_]+)"', source))
    # package_quarantined/released: central's own (central/stock.py).
    # feed_record_skipped: the link's (edge/link/client.py).
    not_workflow = {"package_quarantined", "package_released"}
    not_workflow |= {"feed_record_skipped"}
    assert recorded == set(events.EVENT_TYPES) - not_workflow


def test_event_schema_is_a_union_tagged_on_type() -> None:
    schema = events.json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(events.EVENT_TYPES) and len(mapping) == 39
    verdict = schema["$defs"]["Verdict"]
    assert set(verdict["required"]) >= {"station", "verdict", "outcome", "type"}


def test_customer_classes_are_those_of_the_limit_rules() -> None:
    classes = set()
    for path in (REPO / "config" / "limits").glob("*.toml"):
        classes |= set(
            re.findall(r"^\[version\.class\.([a-z_]+)\]", path.read_text(), re.MULTILINE)
        )
    assert set(get_args(feed.CustomerClass)) == classes


def test_bodies_that_do_not_fit_are_refused_with_a_reason() -> None:
    good = b'{"station":"station-01","device":"scale","ok":false,"detail":"unplugged"}'
    assert isinstance(events.decode_body("device_state", good), events.DeviceState)
    bad = {
        ("pick_verified", good): "unknown event type 'pick_verified'",
        ("device_state", b'{"station":"s","device":"scale","ok":"no","detail":""}'): "`$.ok`",
        ("device_state", b'{"device":"scale","ok":true,"detail":""}'): "`station`",
        ("device_state", b"[" * 40 + b"]" * 40): "nested deeper than 32",
        ("device_state", b"\xff"): "body of a device_state event",
    }
    for (type_, body), words in bad.items():
        with pytest.raises(events.BodyError, match=re.escape(words)):
            events.decode_body(type_, body)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("which", ["events", "intake", "openapi"])
def test_every_reference_resolves(which: str) -> None:
    doc = json.loads(render(which))
    refs = _refs(doc)
    assert refs
    for ref in refs:
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_openapi_describes_exactly_the_routes_the_server_has(tmp_path: Path) -> None:
    from central.config import IntakeSection
    from central.intake import IntakeServer, api
    from central.store import open_store

    store = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")

    async def pushed() -> None:
        pass

    app = IntakeServer(IntakeSection(), store, pushed).app()
    served = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.resource}
    paths = api.openapi()["paths"]
    described = {(m, p) for p, ops in paths.items() for m in ops if m != "parameters"}
    assert served == described
    assert paths["/v1/inventory"]["put"]["requestBody"]["content"]["application/json"] == {
        "schema": {"$ref": "#/components/schemas/Inventory"}
    }
    store.close()
