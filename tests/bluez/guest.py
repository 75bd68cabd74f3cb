"""Runs INSIDE the tier-B VM (started by conftest.py through virtme-ng), as root.

The guest sees the host's file system read-only (writable overlays on /tmp, /etc, /var), so
everything it writes goes to /tmp, and its results to the one host directory the VM may write
(``--out``). It starts what a Linux desktop runs (the hci_vhci module, a system D-Bus,
bluetoothd), attaches a bumble controller to the kernel through /dev/vhci, links it to the
controllers of the simulated sensors, and runs the user's command, ``tiltmon``, against them:
unchanged bleak, its BlueZ backend, bluetoothd, the kernel's HCI layer, then bumble.

Results go to ``OUT/results.json`` after each scenario, so a run cut short still tells what
happened; the host-side tests assert on them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.link import LocalLink
from bumble.transport import open_transport
from scenarios import (
    PRIVATE_LINK,
    PRIVATE_STREAM_SECONDS,
    RESULTS_FILE,
    SCAN_SECONDS,
    SPOOF_SECONDS,
    STREAMS,
    StreamScenario,
)

from firmware_sim.models import MODELS, simulated_device_on_link
from firmware_sim.peripheral import Faults, Security, SimulatedDevice, SimulatedPeripheral
from firmware_sim.radio._controller import VirtualController

WORK = Path("/tmp/tiltmon-bluez")  # guest-only (an overlay over the host's /tmp)
BLUETOOTHD = ("/usr/libexec/bluetooth/bluetoothd", "/usr/lib/bluetooth/bluetoothd")
ADAPTER_WAIT_S = 90.0
CLI_SLACK_S = 150.0  # start-up of a Python CLI under TCG emulation, and its shutdown
PROBE = Path(__file__).with_name("unbonded_probe.py")
CLI_START_S = 25.0  # a Python CLI's start-up under TCG emulation on a busy machine


def start_system_services() -> tuple[subprocess.Popen[bytes], str]:
    """The kernel's virtual HCI driver, a system bus, and bluetoothd on it."""
    subprocess.run(["modprobe", "hci_vhci"], check=True)
    Path("/run/dbus").mkdir(parents=True, exist_ok=True)
    subprocess.run(["dbus-daemon", "--system", "--fork", "--nopidfile"], check=True)
    daemon = next((p for p in BLUETOOTHD if Path(p).exists()), None)
    if daemon is None:
        raise RuntimeError(f"bluetoothd not found in {', '.join(BLUETOOTHD)}")
    log = (WORK / "bluetoothd.log").open("wb")
    return subprocess.Popen([daemon, "--nodetach"], stdout=log, stderr=subprocess.STDOUT), daemon


async def wait_for_adapter() -> float:
    """Until bluetoothd has taken the vhci controller and powered it (AutoEnable).

    Asked through btmgmt in a subprocess: this loop hosts the controller, and the kernel gives
    up on a controller that does not answer its set-up commands within seconds, so nothing
    CPU-heavy (such as bleak's first D-Bus round trips under emulation) may run here.
    """
    started = time.monotonic()
    while True:
        probe = await asyncio.create_subprocess_exec(
            "btmgmt", "info", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await probe.communicate()
        settings = re.search(r"current settings: (.*)", out.decode(errors="replace"))
        if settings and "powered" in settings.group(1).split():
            return time.monotonic() - started
        if time.monotonic() - started > ADAPTER_WAIT_S:
            raise RuntimeError(f"no powered adapter after {ADAPTER_WAIT_S:.0f} s: {out!r}")
        await asyncio.sleep(0.5)


def cli_env(user: str = "") -> dict[str, str]:
    """The CLI's environment; ``user`` gives it data and settings of its own (what one
    scenario records, remembers or pairs with must not steer another's)."""
    env = dict(os.environ)
    env.pop("TILTMON_RADIO", None)  # the system's Bluetooth, i.e. BlueZ
    home = WORK / user if user else WORK
    env["TILTMON_DATA_DIR"] = str(home / "data")
    env["TILTMON_CONFIG_DIR"] = str(home / "config")
    env["HOME"] = str(home)
    return env


async def run_cli(
    args: list[str], timeout_s: float, *, stop_after_s: float | None = None, user: str = ""
) -> dict[str, Any]:
    """Run ``tiltmon ARGS`` as a user would; its exit status, last stdout line and stderr.
    ``stop_after_s``: then SIGTERM it, as a user who gives up would (it closes cleanly)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(user),
    )
    stopper = None
    if stop_after_s is not None:
        stopper = asyncio.get_running_loop().call_later(stop_after_s, process.terminate)
    try:
        async with asyncio.timeout(timeout_s):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        return {
            "returncode": None,
            "error": f"timed out after {timeout_s:.0f} s",
            "stderr": err.decode(errors="replace")[-4000:],
        }
    finally:
        if stopper is not None:
            stopper.cancel()
    lines = out.decode(errors="replace").strip().splitlines()
    parsed: Any = None
    if lines:
        with contextlib.suppress(json.JSONDecodeError):
            parsed = json.loads(lines[-1])
    return {
        "returncode": process.returncode,
        "output": parsed,
        "stdout": "\n".join(lines[-5:]) if parsed is None else "",
        "stderr": err.decode(errors="replace")[-4000:],
        "wall_s": round(time.monotonic() - started, 1),
    }


def new_sensor(
    link: LocalLink,
    model: str,
    seed: int,
    faults: Faults = Faults(),
    *,
    security: Security | None = None,
    name: str | None = None,
) -> SimulatedDevice:
    # The security is always given: what a model's default is may change, these scenarios not.
    return simulated_device_on_link(
        link, "desk_short", model=model, seed=seed, faults=faults, security=security, name=name
    )


def address_of(sensor: SimulatedDevice) -> str:
    return sensor.device.random_address.to_string(False)


async def wait_until_disconnected(sensor: SimulatedDevice, seconds: float) -> bool:
    """The client's closing disconnect reaches the sensor shortly after the CLI exits."""
    connections = list(sensor.device.connections.values())
    if connections:
        closed = asyncio.Event()
        for connection in connections:
            connection.on(connection.EVENT_DISCONNECTION, lambda *_: closed.set())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await closed.wait()
    return not sensor.device.connections


async def scan_scenario(link: LocalLink) -> dict[str, Any]:
    """``tiltmon scan`` finds every model and tells their protocol."""
    sensors = [new_sensor(link, model, seed=7, security=None) for model in MODELS]
    for sensor in sensors:
        await sensor.start()
    try:
        result = await run_cli(["scan", "--seconds", str(SCAN_SECONDS), "--json"], CLI_SLACK_S)
    finally:
        for sensor in sensors:
            await sensor.stop()
    result["advertised"] = {
        address_of(s): {"name": s.device.name, "model": m}
        for s, m in zip(sensors, MODELS, strict=True)
    }
    return result


async def stream_scenario(link: LocalLink, scenario: StreamScenario, out: Path) -> dict[str, Any]:
    """``tiltmon stream --sensor ADDRESS --json --record FILE``; the firmware's own counts."""
    faults = Faults(disconnect_every_s=scenario.disconnect_every_s)
    sensor = new_sensor(link, scenario.model, seed=11, faults=faults, security=None)
    await sensor.start()
    recording = WORK / f"{scenario.name}.tiltmon"
    try:
        result = await run_cli(
            [
                "stream",
                "--sensor",
                address_of(sensor),
                "--rate",
                str(scenario.rate_hz),
                "--seconds",
                str(scenario.seconds),
                "--json",
                "--record",
                str(recording),
            ],
            scenario.seconds + CLI_SLACK_S,
        )
        result["closed_by_client"] = await wait_until_disconnected(sensor, 10.0)
    finally:
        await sensor.stop()
    counters = sensor.counters
    result["firmware"] = dataclasses.asdict(counters) | {
        "samples_spanned": counters.samples_spanned
    }
    result["scenario"] = scenario.as_dict()
    if recording.exists():
        shutil.copy2(recording, out / recording.name)
        result["recording"] = recording.name
    return result


class HciTap:
    """What the controller hands the kernel, as it goes by: the ATT error responses the sensors
    sent, the encryption changes and who was heard advertising. What crossed the link, not
    what a layer above it made of it (BlueZ answers D-Bus calls with its own errors)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.att_errors: list[dict[str, int]] = []
        self.encryption: list[dict[str, int]] = []
        self.adverts: Counter[str] = Counter()

    def on_packet(self, packet: bytes) -> None:
        with contextlib.suppress(Exception):  # a tap must never break the link it watches
            self._look(bytes(packet))
        self.sink.on_packet(packet)

    def _look(self, packet: bytes) -> None:
        if packet[0] == hci.HCI_ACL_DATA_PACKET and len(packet) >= 14:
            flags = struct.unpack_from("<H", packet, 1)[0] >> 12 & 0b11
            cid = struct.unpack_from("<H", packet, 7)[0]
            # The first fragment of an L2CAP frame on the ATT channel, an Error Response
            if flags != 0b01 and cid == 0x0004 and packet[9] == 0x01:
                request, handle, code = struct.unpack_from("<BHB", packet, 10)
                self.att_errors.append({"request": request, "handle": handle, "code": code})
        elif packet[0] == hci.HCI_EVENT_PACKET and (
            packet[1] == hci.HCI_ENCRYPTION_CHANGE_EVENT
            or (
                packet[1] == hci.HCI_LE_META_EVENT
                and packet[3] == hci.HCI_LE_ADVERTISING_REPORT_EVENT
            )
        ):
            event = hci.HCI_Packet.from_bytes(packet)
            if isinstance(event, hci.HCI_Encryption_Change_Event):
                self.encryption.append(
                    {"status": event.status, "enabled": event.encryption_enabled}
                )
            elif isinstance(event, hci.HCI_LE_Advertising_Report_Event):
                for report in event.reports:
                    self.adverts[report.address.to_string(False)] += 1

    def take(self) -> dict[str, Any]:
        """What went by since the last take."""
        seen = {
            "att_errors": self.att_errors,
            "encryption": self.encryption,
            "adverts": dict(self.adverts),
        }
        self.att_errors, self.encryption, self.adverts = [], [], Counter()
        return seen


async def run_probe(address: str) -> dict[str, Any]:
    """The plain-bleak client (unbonded_probe.py), in its own process like any other app."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROBE),
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(PRIVATE_LINK),
    )
    try:
        async with asyncio.timeout(CLI_SLACK_S):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
    result: dict[str, Any] = {"returncode": process.returncode, "stderr": err.decode()[-4000:]}
    with contextlib.suppress(json.JSONDecodeError, IndexError):
        result["output"] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def bluez_device(address: str) -> dict[str, Any]:
    """What bluetoothd holds for the device (org.bluez.Device1 Paired, Bonded), or nothing."""
    path = f"/org/bluez/hci0/dev_{address.replace(':', '_')}"
    held: dict[str, Any] = {}
    for prop in ("Paired", "Bonded"):
        process = await asyncio.create_subprocess_exec(
            "dbus-send",
            "--system",
            "--print-reply",
            "--dest=org.bluez",
            path,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.bluez.Device1",
            f"string:{prop}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        text = out.decode(errors="replace")
        held[prop] = "boolean true" in text if process.returncode == 0 else None
    return held


async def advertise(sensor: SimulatedDevice) -> None:
    """In range again (as SimulatedDevice.start advertises)."""
    await sensor.device.start_advertising(
        auto_restart=True, advertising_interval_min=20, advertising_interval_max=20
    )


async def remove_bluez_device(address: str) -> dict[str, Any]:
    """Adapter1.RemoveDevice, as `bluetoothctl remove` or a desktop's "forget" does: bluetoothd
    drops the device and its bond (the sensor keeps its own)."""
    path = f"/org/bluez/hci0/dev_{address.replace(':', '_')}"
    process = await asyncio.create_subprocess_exec(
        "dbus-send",
        "--system",
        "--print-reply",
        "--dest=org.bluez",
        "/org/bluez/hci0",
        "org.bluez.Adapter1.RemoveDevice",
        f"objpath:{path}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return {"returncode": process.returncode, "output": out.decode(errors="replace")[-500:]}


def firmware_of(sensor: SimulatedDevice) -> dict[str, Any]:
    counters = sensor.counters
    return dataclasses.asdict(counters) | {"samples_spanned": counters.samples_spanned}


async def private_link_scenario(
    link: LocalLink, tap: HciTap, out: Path, result: dict[str, Any], save_all: Any
) -> None:
    """The private link through BlueZ, as a user lives it (scenarios.PRIVATE_STEPS)."""
    # Somebody's sensor: version 2, its pairing window closed until the button is pressed, and
    # a fixed address as the DIY clip has (CircuitPython offers no private addresses; the
    # simulator's rotation is held to its rules on the virtual radio).
    security = Security(pairing_window_s=0.0, private_address=False)
    sensor = new_sensor(link, "tiltmon", seed=23, security=security)
    assert isinstance(sensor, SimulatedPeripheral)
    address = address_of(sensor)
    steps: dict[str, Any] = {}
    result |= {"address": address, "steps": steps}

    async def step(name: str, run: Any, watched: SimulatedDevice = sensor) -> dict[str, Any]:
        before = firmware_of(watched)
        started = time.monotonic()
        tap.take()
        outcome: dict[str, Any] = await run
        outcome["step_wall_s"] = round(time.monotonic() - started, 1)
        outcome["closed_by_client"] = await wait_until_disconnected(watched, 10.0)
        after = firmware_of(watched)
        # The firmware's counts during this step only.
        outcome["firmware"] = {
            k: v - before[k] if isinstance(v, int) and isinstance(before[k], int) else v
            for k, v in after.items()
        }
        outcome["bonded_hosts"] = len(sensor.bonded_hosts)
        outcome["bluez"] = await bluez_device(address)
        outcome |= tap.take()
        steps[name] = outcome
        save_all()  # a step at a time: a run cut short still tells how far it got
        return outcome

    def stream(seconds: int, *extra: str) -> Any:
        return run_cli(
            ["stream", *extra, "--seconds", str(seconds), "--json"],
            seconds + CLI_SLACK_S,
            user=PRIVATE_LINK,
        )

    def pair() -> Any:
        return run_cli(
            ["pair", "--sensor", address, "--seconds", "8"], CLI_SLACK_S, user=PRIVATE_LINK
        )

    await sensor.start()
    try:
        await step("unbonded-probe", run_probe(address))
        await step("unbonded-stream", stream(PRIVATE_STREAM_SECONDS, "--sensor", address))
        await step("pair-window-closed", pair())
        sensor.open_pairing_window(120.0)  # the wearer presses the button
        await step("pair", pair())
        recording = WORK / "private-link.tiltmon"
        await step(
            "stream",
            stream(PRIVATE_STREAM_SECONDS, "--sensor", address, "--record", str(recording)),
        )
        if recording.exists():
            shutil.copy2(recording, out / recording.name)
        await sensor.device.stop_advertising()  # out of range
        # A look-alike: the same name and service, its own address, no bond, no security.
        spoof = new_sensor(link, "tiltmon", seed=29, security=None, name=sensor.device.name)
        result["spoof_address"] = address_of(spoof)
        await spoof.start()
        try:
            # tiltmon keeps looking for its sensor (it may come back in range): the user stops it.
            await step(
                "spoof",
                run_cli(
                    ["stream", "--seconds", "5", "--json"],
                    CLI_SLACK_S,
                    stop_after_s=SPOOF_SECONDS + CLI_START_S,
                    user=PRIVATE_LINK,
                ),
                watched=spoof,
            )
        finally:
            await spoof.stop()
        await advertise(sensor)  # back in range; and this computer loses its bond
        result["bond_removed"] = await remove_bluez_device(address)
        await step("bond-removed-stream", stream(PRIVATE_STREAM_SECONDS, "--sensor", address))
        sensor.open_pairing_window(120.0)
        await step("re-pair", pair())
    finally:
        await sensor.stop()


def save(out: Path, results: dict[str, Any]) -> None:
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=1))


async def run(out: Path, results: dict[str, Any], only: set[str] | None) -> None:
    def save_all() -> None:
        save(out, results)

    def wanted(name: str) -> bool:
        return only is None or name in only

    link = LocalLink()
    async with await open_transport("vhci") as vhci:  # the kernel now has an hci0
        tap = HciTap(vhci.sink)
        controller = VirtualController(
            "bluez-side", host_source=vhci.source, host_sink=tap, link=link
        )
        # Linux expects LE Enhanced Connection Complete from a controller that offers these;
        # bumble's controller sends the legacy event and connects would time out (bumble #841).
        controller.le_features &= ~(
            hci.LeFeatureMask.LL_PRIVACY | hci.LeFeatureMask.LE_EXTENDED_ADVERTISING
        )
        results["adapter_wait_s"] = round(await wait_for_adapter(), 1)
        save_all()
        if wanted("scan"):
            results["scenarios"]["scan"] = await scan_scenario(link)
            save_all()
        for scenario in STREAMS:
            if not wanted(scenario.name):
                continue
            started = time.monotonic()
            result = await stream_scenario(link, scenario, out)
            result["scenario_wall_s"] = round(time.monotonic() - started, 1)
            results["scenarios"][scenario.name] = result
            save_all()
        # Last: it leaves a bond in bluetoothd (its tiltmon data are its own, see cli_env).
        if wanted(PRIVATE_LINK):
            started = time.monotonic()
            private: dict[str, Any] = {}
            results["scenarios"][PRIVATE_LINK] = private
            await private_link_scenario(link, tap, out, private, save_all)
            private["scenario_wall_s"] = round(time.monotonic() - started, 1)
            save_all()
    results["complete"] = True
    save_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="host directory for results")
    parser.add_argument("--only", help="these scenarios (comma-separated), while developing")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    WORK.mkdir(parents=True, exist_ok=True)
    daemon, bluetoothd = start_system_services()
    results: dict[str, Any] = {
        "kernel": platform.release(),
        "bluez": subprocess.run(
            [bluetoothd, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "bleak": version("bleak"),
        "bumble": version("bumble"),
        "scenarios": {},
    }
    try:
        if only is not None:
            results["only"] = sorted(only)
        asyncio.run(run(args.out, results, only))
    except Exception as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"  # the host shows it with the log
        save(args.out, results)
        raise
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        with contextlib.suppress(OSError):
            shutil.copy2(WORK / "bluetoothd.log", args.out / "bluetoothd.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
