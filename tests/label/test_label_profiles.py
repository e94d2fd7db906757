"""Every shipped label profile, rendered at 58 and 80 mm and decoded back from the ESC/POS bytes:
each required field present, the warning text byte-for-byte the profile's, the universal symbol
raster where required, the unverified banner where the text is not verified, and no potency
above what the portion's net weight can hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from drivers.printer.escpos_decode import DecodedJob, decode
from drivers.printer.escpos_encode import encode
from edge.cli import run
from edge.common.errors import BadInput, ConfigError, ExitCode
from edge.common.labs import LabResult
from edge.common.potency import PotencyUnknown, exact_text, portion_mg, printed_mg
from edge.label.content import (
    MissingField,
    StationInfo,
    agent_on_label,
    build_label,
    customer_on_label,
    ounces,
)
from edge.label.inputs import InventoryItemInfo, Package
from edge.label.layout import layout_label
from edge.label.profile import NOT_VERIFIED_BANNER, Profile, load_profile
from edge.workflow.ports import Badge, Customer, Order, OrderLine
from tests.support.printer import PROFILES, REPO, write_inputs, write_station_toml

AT = datetime(2026, 11, 22, 20, 5, tzinfo=UTC)
CODES = sorted(p.stem for p in (REPO / "config" / "limits").glob("*.toml"))
FLOWER, BULK, GUMMY = (
    "1A4060300002C9B000012345",
    "1A4060300002C9B000012348",
    "1A406030000GUMMY0000001",
)

INVENTORY = {
    FLOWER: Package(
        Label=FLOWER,
        Item=InventoryItemInfo(Name="Blue Dream 3.5g"),
        Batch="B-2291",
        Category="flower",
        NetWeightMg=3500,
        ThcMg=245,
        CbdMg=2,
    ),
    BULK: Package(  # the issue's example: 454 g bulk, 113500 mg THC, 900 mg CBD
        Label=BULK,
        Item=InventoryItemInfo(Name="OG Kush bulk flower"),
        Batch="B-1001",
        Category="flower",
        NetWeightMg=454000,
        ThcMg=113500,
        CbdMg=900,
        HarvestDate="2026-09-01",
        PackagedDate="2026-09-20",
        LabName="North Lab",
        LabTestDate="2026-09-15",
        LabBatch="NL-778",
    ),
    GUMMY: Package(
        Label=GUMMY,
        Item=InventoryItemInfo(Name="Sour Gummies 10x10mg"),
        Batch="G-0007",
        Category="edible",
        ThcMg=100,
        CbdMg=0,
    ),
}


def station(code: str) -> StationInfo:
    return StationInfo(
        dispensary_name="Green Leaf Dispensary",
        license_number="1503060555",
        jurisdiction=code,
        timezone="America/Chicago",
        station_id="station-07",
    )


def order(weigh: bool = True) -> Order:
    lines = [
        OrderLine(line=1, uid=FLOWER),
        OrderLine(line=2, uid=GUMMY),
    ]
    if weigh:
        lines.append(OrderLine(line=3, weigh=True, labelled_weight_mg=3500, picked=[BULK]))
    return Order(
        order_id="1042",
        channel="pickup",
        customer=Customer(id="C-88", name="Ada Lovelace"),
        lines=lines,
    )


def profile(code: str) -> Profile:
    return load_profile(code, PROFILES, AT.date(), allow_unverified=True)


def printed(label_profile: Profile, width: int, weigh: bool = True) -> tuple[DecodedJob, object]:
    label = build_label(
        order(weigh),
        INVENTORY,
        station(label_profile.jurisdiction),
        label_profile,
        "Ada Tech",
        AT,
        weighed={(3, BULK): 3505},
        labs={uid: [coa_result(p.Batch)] for uid, p in INVENTORY.items()},
    )
    doc = layout_label(label, width, 6, label_profile.symbol)  # type: ignore[arg-type]
    return decode(encode(doc)), label


def coa_result(batch: str) -> LabResult:
    """A COA record's result for `batch`, as central feeds it (edge/common/labs.py)."""
    return LabResult(
        id=f"coa:Desert Labs:DL-{batch}",
        source="coa",
        package=None,
        batch=batch,
        lab="Desert Labs",
        tested="2026-11-01",
        passed=True,
        document=f"https://coa.example/{batch}.pdf",
        values={"THC": "21.4", "CBD": "0.60", "terpene:myrcene": "0.91"},
    )


def has_run(lines: list[str], text: str) -> bool:
    """`text` is printed as consecutive lines that, joined by single spaces, are exactly it."""
    for start in range(len(lines)):
        joined = ""
        for end in range(start, len(lines)):
            joined = lines[end] if end == start else f"{joined} {lines[end]}"
            if joined == text:
                return True
            if not text.startswith(joined):
                break
    return False


def test_every_limit_state_has_a_profile() -> None:
    assert len(CODES) == 14
    for code in CODES:
        assert (PROFILES / f"{code}.toml").exists(), code
        loaded = profile(code)
        assert loaded.version.checked == date(2026, 12, 1)
        for warning in loaded.version.warning:
            assert warning.citation.strip(), (code, warning.text)


@pytest.mark.parametrize("code", CODES)
def test_unverified_profile_is_refused_unless_allowed(code: str) -> None:
    loaded = profile(code)
    if loaded.verified:
        assert load_profile(code, PROFILES, AT.date()).verified
        assert "NOT VERIFIED" not in loaded.path.read_text()
        return
    with pytest.raises(ConfigError, match="allow_unverified"):
        load_profile(code, PROFILES, AT.date())
    assert "NOT VERIFIED" in loaded.version.note


def check_coa(label_profile: Profile, job: DecodedJob, text: str) -> None:
    """The COA the profile asks for: the lab's values as printed, the link as text and QR code;
    nothing of it where the profile asks for none."""
    v, code = label_profile.version, label_profile.jurisdiction
    coa_lines = [line for line in job.lines if line.strip().startswith("COA")]
    if v.coa_values:
        want = ", ".join(f"{n} {coa_result('B-2291').values[n]}%" for n in v.coa_values)
        assert f"COA: {want}" in text, code
    if v.coa_link:
        assert "  COA link:" in job.lines, code
        assert "https://coa.example/B-2291.pdf" in "".join(x.strip() for x in job.lines), code
        assert "https://coa.example/B-2291.pdf" in job.qr_payloads, code
        assert job.qr_payloads[-1].startswith("SEAL-1042-")  # the seal stays the last code
    if not v.coa_values and not v.coa_link:
        assert coa_lines == [] and len(job.qr_payloads) == 1, code


@pytest.mark.parametrize("width", [58, 80])
@pytest.mark.parametrize("code", CODES)
def test_profile_renders_with_every_required_field(code: str, width: int) -> None:
    label_profile = profile(code)
    weigh = label_profile.version.weigh_out
    job, _ = printed(label_profile, width, weigh)
    lines = job.lines
    text = " ".join(" ".join(lines).split())
    cols = 32 if width == 58 else 48
    assert all(len(line) <= cols for line in lines)
    fields = {
        "dispensary_name": "Green Leaf Dispensary",
        "license_number": "License 1503060555",
        "order_id": "ORDER 1042",
        "customer": "Customer: Ada #C-88"
        if label_profile.version.privacy == "first_name_and_number"
        else "Customer: Ada Lovelace",
        "date": "Date: 2026-11-22 14:05 CST",
        "product_name": "Blue Dream 3.5g",
        "uid": f"UID {FLOWER}",
        "batch": "Batch B-2291",
        "thc": "THC 245 mg",
        "cbd": "CBD 2 mg",
        "agent": "Agent Ada Tech",
    }
    for name in label_profile.version.exit_fields:
        if name in fields:
            assert fields[name] in text, (code, name)
    assert "Lovelace" not in text or label_profile.version.privacy == "full_name"
    # the warnings: each applicable statement printed exactly as the profile has it
    categories = {"flower", "edible"}
    expected = label_profile.warnings_for("exit", categories)
    assert expected, code
    for warning in expected:
        assert has_run(lines, warning.text), (code, warning.text)
    for warning in label_profile.version.warning:
        if warning not in expected and warning.text not in {w.text for w in expected}:
            assert not has_run(lines, warning.text), (code, warning.text)
    banner = NOT_VERIFIED_BANNER in lines
    assert banner == (not label_profile.verified), code
    check_coa(label_profile, job, text)
    if not weigh:
        return
    # the container label of the weighed portion: its own cut, potency by weight, rounded down
    assert job.cuts == 2
    assert "Net wt 3.505 g" in text
    assert "THC 876 mg" in text and "CBD 6 mg" in text and "THC 113500 mg" not in text
    assert f"UID {BULK}" in text and "Batch B-1001" in text
    if "net_weight_us" in label_profile.version.container_fields:
        assert "Net wt 3.505 g (0.123 oz)" in text
    for key, shown in {
        "harvest_date": "Harvested 2026-09-01",
        "lab_name": "North Lab",
        "lab_batch": "test batch NL-778",
        "lab_test_date": "tested 2026-09-15",
    }.items():
        if key in label_profile.version.container_fields:
            assert shown in text, (code, key)
    rasters = job.rasters
    if label_profile.symbol_on("container"):
        assert label_profile.symbol is not None
        width_bytes, data = label_profile.symbol.raster_bytes()
        assert [(r.width_bytes, r.height, r.data) for r in rasters] == [
            (width_bytes, label_profile.symbol.height, data)
        ]
        assert "symbol" in label_profile.version.container_fields
    else:
        assert rasters == []
    for warning in label_profile.warnings_for("container", {"flower"}):
        assert has_run(lines, warning.text), (code, warning.text)
    seal = [q for q in job.qr_payloads if q.startswith("SEAL-")]
    assert len(seal) == 1


def test_california_refuses_a_weighed_portion() -> None:
    with pytest.raises(BadInput, match="15412"):
        printed(profile("CA"), 80, weigh=True)


def test_california_warning_follows_the_product_type() -> None:
    job, _ = printed(profile("CA"), 58, weigh=False)
    cannabis, products = profile("CA").version.warning
    assert has_run(job.lines, cannabis.text) and has_run(job.lines, products.text)
    only_flower = msgspec.structs.replace(order(False), lines=[OrderLine(line=1, uid=FLOWER)])
    label = build_label(only_flower, INVENTORY, station("CA"), profile("CA"), "Ada", AT)
    assert label.warnings == (cannabis.text,)
    assert label.warnings_bold  # 26120(c)(1): "in bold print"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ThcMg": None}, "thc"),
        ({"CbdMg": None}, "cbd"),
        ({"Batch": " "}, "batch"),
    ],
)
def test_a_label_missing_a_required_field_is_refused(change: dict[str, object], field: str) -> None:
    inventory = {**INVENTORY, FLOWER: msgspec.structs.replace(INVENTORY[FLOWER], **change)}
    with pytest.raises(MissingField) as err:
        build_label(order(False), inventory, station("IL"), profile("IL"), "Ada", AT)
    assert err.value.field == field and FLOWER in str(err.value)


def test_a_portion_of_a_bulk_package_without_net_weight_is_refused() -> None:
    inventory = {**INVENTORY, BULK: msgspec.structs.replace(INVENTORY[BULK], NetWeightMg=None)}
    with pytest.raises(MissingField) as err:
        build_label(order(), inventory, station("IL"), profile("IL"), "Ada", AT, {(3, BULK): 3505})
    assert err.value.field == "thc"


def test_container_label_without_harvest_date_is_refused_where_required() -> None:
    inventory = {**INVENTORY, BULK: msgspec.structs.replace(INVENTORY[BULK], HarvestDate=None)}
    with pytest.raises(MissingField) as err:
        build_label(order(), inventory, station("MI"), profile("MI"), "Ada", AT, {(3, BULK): 3505})
    assert err.value.field == "harvest_date" and "container label" in str(err.value)


def test_the_agent_is_never_the_badge_value() -> None:
    badge = Badge(code="BADGE-TECH0001", name="")
    assert agent_on_label(badge) == ""
    assert agent_on_label(Badge(code="BADGE-TECH0001", staff_number="417")) == "staff no. 417"
    assert agent_on_label(Badge(code="BADGE-TECH0001", name="Ada Tech")) == "Ada Tech"
    assert agent_on_label(None) == ""
    with pytest.raises(MissingField) as err:
        build_label(order(False), INVENTORY, station("IL"), profile("IL"), "", AT)
    assert err.value.field == "agent"


def test_customer_privacy() -> None:
    ada = Customer(id="C-88", name="Ada Lovelace")
    assert customer_on_label(ada, "full_name") == "Ada Lovelace"
    assert customer_on_label(ada, "first_name_and_number") == "Ada #C-88"
    assert customer_on_label(Customer(id="C-88", name=""), "first_name_and_number") == ""


def test_the_issue_example_portion() -> None:
    thc = portion_mg(113500, 3505, 454000)
    assert thc == Fraction(3505, 4) and exact_text(thc) == "3505/4" and printed_mg(thc) == 876
    assert printed_mg(portion_mg(900, 3505, 454000)) == 6
    with pytest.raises(PotencyUnknown):
        portion_mg(None, 3505, 454000)
    with pytest.raises(PotencyUnknown):
        portion_mg(100, 3505, None)
    with pytest.raises(ValueError, match="cannot come from"):
        portion_mg(100, 5000, 3500)


@given(
    bulk_net=st.integers(min_value=1, max_value=10**7),
    bulk_mg=st.integers(min_value=0, max_value=10**7),
    share=st.fractions(min_value=0, max_value=1),
)
def test_printed_potency_never_exceeds_what_the_net_weight_holds(
    bulk_net: int, bulk_mg: int, share: Fraction
) -> None:
    net = int(bulk_net * share)
    exact = portion_mg(bulk_mg, net, bulk_net)
    shown = printed_mg(exact)
    assert shown <= exact < shown + 1
    assert shown * bulk_net <= bulk_mg * net  # integer check of the rule itself


def test_ounces_round_down() -> None:
    assert ounces(28349) == "0.999 oz" and ounces(28350) == "1.000 oz"
    assert ounces(3505) == "0.123 oz"


def test_label_command_refuses_unverified_text_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    order_path, inv_path = write_inputs(tmp_path)
    cfg = write_station_toml(tmp_path)
    text = cfg.read_text().replace('jurisdiction = "IL"', 'jurisdiction = "OR"')
    cfg.write_text(text)
    args = [
        "label",
        "preview",
        str(order_path),
        "--inventory",
        str(inv_path),
        "--config",
        str(cfg),
        "--agent",
        "Ada Tech",
        "--at",
        "2026-11-22T20:05:00Z",
        "--out",
        str(tmp_path / "x.png"),
    ]
    assert run(args) == ExitCode.CONFIG
    assert "not verified" in capsys.readouterr().err and not (tmp_path / "x.png").exists()
    cfg.write_text(text + "[label]\nallow_unverified = true\n")
    assert run(args) == ExitCode.OK
    with Image.open(tmp_path / "x.png") as img:
        printed_text = img.text["packstation:text"]  # type: ignore[attr-defined]
    assert printed_text.count(NOT_VERIFIED_BANNER) >= 2  # container label and exit label
