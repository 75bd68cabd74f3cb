"""``tiltmon sim``: a simulated sensor in its own process, reachable over loopback."""

from __future__ import annotations

import argparse
import asyncio

from firmware_sim.models import MODELS, simulated_device_on_link
from firmware_sim.peripheral import Faults, Security
from firmware_sim.radio import serve_link
from firmware_sim.scenarios import scenario_names
from monitor.errors import MonitorError


def faults_from_args(args: argparse.Namespace) -> Faults:
    return Faults(
        drop_fraction=args.sim_drop,
        corrupt_fraction=args.sim_corrupt,
        disconnect_every_s=args.sim_disconnect_every,
        stall_after_s=args.sim_stall_after,
        battery_percent=args.sim_battery,
        clock_drift_ppm=args.sim_clock_drift,
    )


async def run_sim(args: argparse.Namespace) -> int:
    if args.list:
        print("sensor models (--sim-model):")
        for model in MODELS.values():
            extras = [] if model.reports_battery else ["no battery level"]
            extras += [] if model.has_gyro else ["no gyroscope"]
            more = f"; {', '.join(extras)}" if extras else ""
            print(f"  {model.name:<10} {model.title} ({model.rates_text}{more})")
        print("scenarios:")
        for name in scenario_names():
            print(f"  {name}")
        return 0
    faults = faults_from_args(args)
    if args.private_link and args.sim_model != "tiltmon":
        raise MonitorError(f"--private-link: the {args.sim_model} model keeps its own protocol")
    async with serve_link("127.0.0.1", args.port) as served:
        security = Security() if args.private_link else None
        peripheral = simulated_device_on_link(
            served.link,
            args.scenario,
            model=args.sim_model,
            seed=args.seed,
            faults=faults,
            security=security,
        )
        await peripheral.start()
        print(
            f"simulated {MODELS[args.sim_model].title} {peripheral.device.name!r}"
            f" ({args.scenario}, seed {args.seed})"
            f" on {served.transport_spec}\n"
            + (
                f"private link: pair first with  tiltmon pair --radio {served.transport_spec}"
                " (pairing window open for two minutes)\n"
                if security is not None
                else ""
            )
            + f"connect with:  tiltmon stream --radio {served.transport_spec}\n"
            f"          or:  TILTMON_RADIO={served.transport_spec} tiltmon stream",
            flush=True,
        )
        try:
            await asyncio.Event().wait()
        finally:
            await peripheral.stop()
            c = peripheral.counters
            print(
                f"firmware: {c.connections} connections, {c.samples_sent} samples sent,"
                f" {c.samples_dropped} dropped, {c.disconnects_caused} disconnects caused",
                flush=True,
            )
    return 0
