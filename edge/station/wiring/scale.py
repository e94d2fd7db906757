"""The WeighRule (the scale driver's weigh-out rule: label, allowance, scale division) and the
Scale port over the serial scale driver, which is also the Service reporting the scale's state."""

from __future__ import annotations

import asyncio

from drivers.scale import Capture, NoReading, WeighOutAccepted, WeighOutRules, check_weigh_out
from drivers.scale import Scale as DriverScale
from drivers.scale.serial_port import DeviceEvent
from drivers.scale.serial_port import DeviceState as ScaleState
from edge.common.errors import DeviceError
from edge.station.config import StationConfig
from edge.station.ports import StationHandle
from edge.workflow.ports import OrderLine, ScaleReading, WeighResult


class DriverWeighRule:
    """edge.workflow.ports.WeighRule: the scale driver's weigh-out rule (drivers/scale/weigh_rules.py)."""

    def __init__(self, rules: WeighOutRules) -> None:
        self.rules = rules

    def judge(self, line: OrderLine, net_mg: int, division_mg: int = 0) -> WeighResult:
        if line.gross:  # a wholesale package's gross weight, for the manifest (docs/wholesale.md)
            return WeighResult(ok=True, reason=f"gross {net_mg} mg", min_mg=0, max_mg=0)
        labelled = line.labelled_weight_mg
        if labelled is None:
            reason = f"line {line.line} is weighed out but has no labelled weight"
            return WeighResult(ok=False, reason=reason, min_mg=0, max_mg=0, code="no_label_weight")
        low, high = labelled, labelled + self.rules.over_tolerance_mg
        capture = Capture(net_mg=net_mg, unit="g", division_mg=division_mg, raw=b"")
        result = check_weigh_out(capture, labelled, self.rules)
        if isinstance(result, WeighOutAccepted):
            return WeighResult(
                ok=True, reason=f"{net_mg} mg within {low}..{high} mg", min_mg=low, max_mg=high
            )
        code = {"under": "short_weight", "over": "over_weight"}.get(
            result.refusal.value, "coarse_scale"
        )
        return WeighResult(ok=False, reason=result.reason, min_mg=low, max_mg=high, code=code)


class ScalePort:
    """edge.station.ports.Scale over the serial scale driver; also the Service reporting its state."""

    def __init__(self, cfg: StationConfig) -> None:
        self.scale = DriverScale.from_config(cfg.scale)
        self.timeout_s = cfg.workflow.weigh_timeout_s
        self._started = asyncio.Event()

    async def weigh(self) -> ScaleReading:
        await self._started.wait()
        got = await self.scale.capture(self.timeout_s)
        if isinstance(got, NoReading):
            raise DeviceError(f"scale: no reading ({got.reason.value}): {got.detail}")
        return ScaleReading(net_mg=got.net_mg, division_mg=got.division_mg)

    async def run(self, station: StationHandle) -> None:
        events = self.scale.device_events()
        first = await self.scale.start()
        self._started.set()
        await _scale_state(station, first)
        try:
            async for event in events:
                await _scale_state(station, event)
        finally:
            events.close()
            await self.scale.stop()


async def _scale_state(station: StationHandle, event: DeviceEvent) -> None:
    if event.state in (ScaleState.CONNECTED, ScaleState.UNPLUGGED):
        ok = event.state is ScaleState.CONNECTED
        await station.device_state("scale", ok, "" if ok else event.detail or "scale unplugged")
