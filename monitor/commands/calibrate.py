"""``tiltmon calibrate``: the guided calibration, headless, and saving the device's profile."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import TextIO

from calibration import (
    CalibrationError,
    CalibrationProcedure,
    CalibrationProfile,
    CalibrationResult,
    Failed,
    Finished,
    ProcedureConfig,
    Progress,
    Prompt,
    save_profile,
)
from monitor.errors import MonitorError
from monitor.session import calibration_profile
from monitor.stream import StreamAssembler
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, TransportItem


class CalibrationTimeoutError(MonitorError):
    """The sensor stopped or the wearer never finished within the time allowed."""


@dataclass(slots=True)
class CalibrationRun:
    result: CalibrationResult | None = None
    device: DeviceInfo | None = None
    samples: int = 0


async def calibrate_items(
    items: AsyncIterable[TransportItem],
    procedure: CalibrationProcedure | None = None,
    *,
    method: str = "walk",
    seconds: float = math.inf,
    out: TextIO = sys.stdout,
) -> CalibrationRun:
    """Run transport items through the assembler and the procedure, printing its prompts.

    Sample times are the sensor's own clock, so replays run the same. Raises the procedure's
    ``CalibrationError`` when it fails, :class:`CalibrationTimeoutError` after ``seconds`` of
    sensor time without a result.
    """
    assembler = StreamAssembler()
    run = CalibrationRun()
    shown = -1
    first_t: float | None = None
    async for item in items:
        if isinstance(item, LinkEvent):
            if item.kind is LinkEventKind.DEVICE_INFO and item.device_info is not None:
                run.device = item.device_info
            elif (
                item.kind is LinkEventKind.CONFIGURED
                and item.config is not None
                and procedure is None
            ):
                procedure = CalibrationProcedure(
                    item.config.rate_hz, ProcedureConfig(method=method)
                )
        batch, _ = assembler.feed(item)
        if batch is None or procedure is None:
            continue
        if batch.gyr is None:
            raise CalibrationError("this sensor sends no gyroscope data: calibration needs it")
        run.samples += len(batch)
        first_t = float(batch.sensor_time[0]) if first_t is None else first_t
        for event in procedure.feed(batch.sensor_time, batch.acc, batch.gyr):
            if isinstance(event, Prompt):
                print(event.text, file=out, flush=True)
            elif isinstance(event, Progress):
                percent = int(event.overall * 10) * 10  # a line per 10 %, not per batch
                if percent > shown:
                    shown = percent
                    print(f"  {percent:3d} %", file=out, flush=True)
            elif isinstance(event, Failed):
                raise event.error
            elif isinstance(event, Finished):
                run.result = event.result
                return run
        if float(batch.sensor_time[-1]) - first_t > seconds:
            raise CalibrationTimeoutError(f"calibration did not finish within {seconds:.0f} s")
    raise CalibrationTimeoutError("the sensor stopped streaming before calibration finished")


def profile_from(run: CalibrationRun, device_id: str | None = None) -> CalibrationProfile:
    assert run.result is not None
    return calibration_profile(run.result, run.device, device_id)


async def run_calibrate(args: argparse.Namespace) -> int:
    from monitor.commands.stream import sensor_choice

    method = "tilt" if args.tilt else "walk"
    choice, _label = sensor_choice(args).resolved()  # the last sensor preferred, as elsewhere
    transport = choice.transport()  # not recorded: the profile is the result
    async with transport:
        run = await calibrate_items(aiter(transport), method=method, seconds=args.seconds)
    profile = profile_from(run, args.device)
    path = save_profile(profile)
    q = ", ".join(f"{v:+.4f}" for v in profile.q_PS)
    figures = ", ".join(f"{k} {v:g}" for k, v in profile.quality.items())
    print(f"Saved the calibration of {profile.device_id} to {path}")
    print(f"  mounting q_PS = [{q}]; {figures}")
    return 0


__all__ = ["CalibrationRun", "CalibrationTimeoutError", "calibrate_items", "run_calibrate"]
