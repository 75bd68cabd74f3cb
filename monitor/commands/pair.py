"""``tiltmon pair``: pair with a tiltmon sensor once, so that its link is private from then on."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from monitor.pairing import PairedSensors, parse_passkey
from monitor.transport.ble import (
    RADIO_ENV_VAR,
    PairedWith,
    PasskeySource,
    open_virtual_radio,
    pair_sensor,
)


async def terminal_passkey() -> int | None:
    """Ask at the terminal for the passkey on the sensor's label (None: nothing typed)."""
    try:
        text = await asyncio.to_thread(
            input, "the sensor asks for the 6-digit passkey on its label: "
        )
    except EOFError:
        return None
    return parse_passkey(text) if text.strip() else None


def _given(passkey: int) -> PasskeySource:
    async def given() -> int:
        return passkey

    return given


def passkey_source(args: argparse.Namespace) -> PasskeySource | None:
    """``--passkey``, else a prompt at the terminal, else none (piped: a clear error)."""
    if args.passkey is not None:
        return _given(args.passkey)
    return terminal_passkey if sys.stdin.isatty() else None


async def run_pair(args: argparse.Namespace) -> int:
    paired = PairedSensors()
    if args.list:
        return _list(paired)
    if args.forget:
        if not paired.remove(args.forget):
            print(f"not paired with {args.forget}")
            return 1
        print(
            f"forgot {args.forget}. Remove the bond from the system's Bluetooth settings too"
            " (on Linux: bluetoothctl remove ADDRESS)."
        )
        return 0
    passkey = passkey_source(args)
    if args.sim is not None:
        result = await _pair_simulated(args, passkey)
        print(
            f"paired with the simulated sensor {result.name} ({result.address}): the link is"
            " encrypted and the sensor bonded with this computer. (The simulator and its bond"
            " live as long as this command; `tiltmon sim` runs one that stays.)"
        )
        return 0
    radio_spec = args.radio or os.environ.get(RADIO_ENV_VAR)
    if radio_spec:
        radio = await open_virtual_radio(radio_spec)
        try:
            result = await pair_sensor(
                args.sensor,
                seconds=args.seconds,
                paired=paired,
                scanner_backend=radio.scanner_backend,
                client_backend=radio.client_backend,
                passkey=passkey,
            )
        finally:
            await radio.close()
    else:
        result = await pair_sensor(
            args.sensor, seconds=args.seconds, paired=paired, passkey=passkey
        )
    _report(result, paired)
    return 0


def _report(result: PairedWith, paired: PairedSensors) -> None:
    if result.private:
        print(f"paired with {result.name} ({result.address}); its link is encrypted.")
    else:
        print(
            f"paired with {result.name} ({result.address}). It speaks profile version 1 and"
            " lets any computer connect: update its firmware for a private link."
        )
    print(
        f"tiltmon now connects only to the tiltmon sensors it is paired with ({len(paired)};"
        f" `tiltmon pair --list`). Record: {paired.path}"
    )


def _list(paired: PairedSensors) -> int:
    sensors = paired.sensors()
    if not sensors:
        print("not paired with any sensor (tiltmon connects to any it finds)")
        return 0
    for sensor in sensors:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(sensor.paired_at))
        print(f"{sensor.address}  {sensor.name}  ({sensor.protocol}, paired {when})")
    return 0


async def _pair_simulated(args: argparse.Namespace, passkey: PasskeySource | None) -> PairedWith:
    """A version-2 simulated sensor, switched on just now (its pairing window open), on an
    in-process virtual link; paired through the same path as a real one."""
    from bumble.link import LocalLink

    from firmware_sim.models import simulated_device_on_link
    from firmware_sim.peripheral import Security
    from firmware_sim.radio import VirtualRadio

    link = LocalLink()
    security = Security(passkey=args.sim_passkey)
    sensor = simulated_device_on_link(link, args.sim, seed=args.seed, security=security)
    await sensor.start()
    try:
        async with VirtualRadio(link=link) as radio:
            return await pair_sensor(
                None,
                seconds=args.seconds,
                scanner_backend=radio.scanner_backend,
                client_backend=radio.client_backend,
                passkey=passkey,
            )
    finally:
        await sensor.stop()
