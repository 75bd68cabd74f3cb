"""``tiltmon sim``: a simulated sensor in its own process, reachable over loopback."""

from __future__ import annotations

import argparse
import asyncio

from firmware_sim.models import MODELS, simulated_device_on_link
from firmware_sim.peripheral import Faults, Security, random_passkey
from firmware_sim.radio import serve_link
from firmware_sim.scenarios import scenario_names
from monitor.errors import MonitorError
from monitor.pairing import parse_passkey


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
    security = _security(args)
    async with serve_link("127.0.0.1", args.port) as served:
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
                _pairing_lines(security, served.transport_spec)
                if args.sim_model == "tiltmon"
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


def _security(args: argparse.Namespace) -> Security | None:
    """Version 2 (the private link) for the tiltmon model unless ``--open-link``."""
    if args.sim_model != "tiltmon":
        if args.open_link or args.passkey is not None:
            raise MonitorError(
                f"--open-link/--passkey: the {args.sim_model} model keeps its own protocol's"
                " security"
            )
        return None
    if args.open_link:
        if args.passkey is not None:
            raise MonitorError("--passkey: a version-1 (open link) sensor never pairs")
        return None
    if args.passkey is None:
        return Security()
    passkey = random_passkey() if args.passkey == "random" else parse_passkey(args.passkey)
    try:
        return Security(passkey=passkey)
    except ValueError as exc:
        raise MonitorError(f"--passkey: {exc}") from None


def _pairing_lines(security: Security | None, spec: str) -> str:
    if security is None:
        return "open link (profile version 1): any computer may connect\n"
    label = (
        f"passkey on its label: {security.passkey:06d}\n" if security.passkey is not None else ""
    )
    passkey = f" --passkey {security.passkey:06d}" if security.passkey is not None else ""
    return (
        label + f"private link: pair first with  tiltmon pair --radio {spec}{passkey}"
        " (pairing window open for two minutes)\n"
    )
