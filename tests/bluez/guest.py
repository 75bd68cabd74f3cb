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
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.link import LocalLink
from bumble.transport import open_transport
from scenarios import RESULTS_FILE, SCAN_SECONDS, STREAMS, StreamScenario

from firmware_sim.models import MODELS, simulated_device_on_link
from firmware_sim.peripheral import Faults, SimulatedDevice
from firmware_sim.radio._controller import VirtualController

WORK = Path("/tmp/tiltmon-bluez")  # guest-only (an overlay over the host's /tmp)
BLUETOOTHD = ("/usr/libexec/bluetooth/bluetoothd", "/usr/lib/bluetooth/bluetoothd")
ADAPTER_WAIT_S = 90.0
CLI_SLACK_S = 150.0  # start-up of a Python CLI under TCG emulation, and its shutdown


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


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TILTMON_RADIO", None)  # the system's Bluetooth, i.e. BlueZ
    env["TILTMON_DATA_DIR"] = str(WORK / "data")
    env["TILTMON_CONFIG_DIR"] = str(WORK / "config")
    env["HOME"] = str(WORK)
    return env


async def run_cli(args: list[str], timeout_s: float) -> dict[str, Any]:
    """Run ``tiltmon ARGS`` as a user would; its exit status, last stdout line and stderr."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )
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
    lines = out.decode(errors="replace").strip().splitlines()
    parsed: Any = None
    if lines:
        with contextlib.suppress(json.JSONDecodeError):
            parsed = json.loads(lines[-1])
    return {
        "returncode": process.returncode,
        "output": parsed,
        "stderr": err.decode(errors="replace")[-4000:],
        "wall_s": round(time.monotonic() - started, 1),
    }


def new_sensor(
    link: LocalLink, model: str, seed: int, faults: Faults = Faults()
) -> SimulatedDevice:
    return simulated_device_on_link(link, "desk_short", model=model, seed=seed, faults=faults)


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
    sensors = [new_sensor(link, model, seed=7) for model in MODELS]
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
    sensor = new_sensor(link, scenario.model, seed=11, faults=faults)
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


def save(out: Path, results: dict[str, Any]) -> None:
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=1))


async def run(out: Path, results: dict[str, Any]) -> None:
    def save_all() -> None:
        save(out, results)

    link = LocalLink()
    async with await open_transport("vhci") as vhci:  # the kernel now has an hci0
        controller = VirtualController(
            "bluez-side", host_source=vhci.source, host_sink=vhci.sink, link=link
        )
        # Linux expects LE Enhanced Connection Complete from a controller that offers these;
        # bumble's controller sends the legacy event and connects would time out (bumble #841).
        controller.le_features &= ~(
            hci.LeFeatureMask.LL_PRIVACY | hci.LeFeatureMask.LE_EXTENDED_ADVERTISING
        )
        results["adapter_wait_s"] = round(await wait_for_adapter(), 1)
        save_all()
        results["scenarios"]["scan"] = await scan_scenario(link)
        save_all()
        for scenario in STREAMS:
            started = time.monotonic()
            result = await stream_scenario(link, scenario, out)
            result["scenario_wall_s"] = round(time.monotonic() - started, 1)
            results["scenarios"][scenario.name] = result
            save_all()
    results["complete"] = True
    save_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="host directory for results")
    args = parser.parse_args()
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
        asyncio.run(run(args.out, results))
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
