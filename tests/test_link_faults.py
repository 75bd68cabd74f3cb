"""The reconnect loop survives whatever a failing BLE stack raises, and still obeys a real cancel.

The client is monitor.transport.ble on bleak, over firmware_sim's bumble backend, against the
simulated firmware. Where a fault needs exact timing (a GATT request cancelled by the radio as
the link drops), the backend is subclassed to drop the link itself and then raise what the
radio raises in that race; everything else is the real stack.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from bumble.core import InvalidStateError
from bumble.link import LocalLink

from firmware_sim.peripheral import simulated_sensor_on_link
from firmware_sim.radio import VirtualRadio
from monitor.transport.ble import BleTransport, ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

FAST = ReconnectPolicy(first_delay_s=0.05, max_delay_s=0.2, scan_timeout_s=3.0, watchdog_s=1.0)

FAULTS: dict[str, Callable[[], BaseException]] = {
    # bumble cancels the pending request's future on link loss: CancelledError comes out of it
    "radio_cancels_request": asyncio.CancelledError,
    "bumble_error": lambda: InvalidStateError("connection gone"),
    "connection_reset": lambda: ConnectionResetError(104, "Connection reset by peer"),
    "eof": EOFError,
}


class Trips:
    """How many battery reads (one per connection) fail, and how."""

    def __init__(self, times: int, fault: Callable[[], BaseException]) -> None:
        self.left = times
        self.fault = fault


def tripping_backend(radio: VirtualRadio, trips: Trips) -> type[Any]:
    base: type[Any] = radio.client_backend

    class TrippingClient(base):  # type: ignore[misc,valid-type]
        async def read_gatt_char(self, characteristic: Any, **kwargs: Any) -> bytearray:
            if trips.left > 0 and "2a19" in str(getattr(characteristic, "uuid", characteristic)):
                trips.left -= 1
                await self.disconnect()  # the link really goes down
                raise trips.fault()
            result: bytearray = await super().read_gatt_char(characteristic, **kwargs)
            return result

    return TrippingClient


async def stream_through_faults(
    fault: Callable[[], BaseException], times: int, *, until_notifications: int
) -> list[LinkEvent | Notification]:
    link = LocalLink()
    peripheral = simulated_sensor_on_link(link, "desk_short", seed=1)
    await peripheral.start()
    radio = VirtualRadio(link=link)
    await radio.open()
    trips = Trips(times, fault)
    seen: list[LinkEvent | Notification] = []
    try:
        transport = BleTransport(
            None,
            settings=StreamSettings(rate_hz=50),
            policy=FAST,
            scanner_backend=radio.scanner_backend,
            client_backend=tripping_backend(radio, trips),
        )
        async with asyncio.timeout(60), transport:
            notifications = 0
            async for item in transport:
                seen.append(item)
                notifications += isinstance(item, Notification)
                if notifications >= until_notifications:
                    break
    finally:
        await peripheral.stop()
        await radio.close()
    assert trips.left == 0
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS)
async def test_the_loop_reconnects_after_any_error_of_the_stack(fault: str) -> None:
    seen = await stream_through_faults(FAULTS[fault], 3, until_notifications=20)
    kinds = [i.kind for i in seen if isinstance(i, LinkEvent)]
    assert kinds.count(LinkEventKind.CONNECTED) == 4  # three failed sessions, then streaming
    assert kinds.count(LinkEventKind.DISCONNECTED) == 3
    assert sum(isinstance(i, Notification) for i in seen) == 20


@pytest.mark.slow
async def test_a_real_cancellation_still_ends_the_loop() -> None:
    # The task is cancelled while the stack keeps failing: the cancel must not be taken for one
    # more link error (the loop would then run on, and the caller could never stop it).
    task = asyncio.create_task(
        stream_through_faults(FAULTS["radio_cancels_request"], 1_000, until_notifications=1)
    )
    await asyncio.sleep(1.5)
    assert not task.done()
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_disconnect_every_second_on_a_loaded_machine_is_survived() -> None:
    burn = "import time\nend = time.monotonic() + 30\nwhile time.monotonic() < end: pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(2)]
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor.cli",
                "stream",
                "--sim",
                "--sim-disconnect-every",
                "1",
                "--seconds",
                "20",
                "--json",
                "--no-record",
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["reconnects"] >= 8
    assert summary["duplicates"] == 0
    assert summary["samples"] > 0


@pytest.mark.slow
def test_a_fault_storm_accounts_for_every_sample_in_flat_memory() -> None:
    # The benchmark's storm, shorter: 25 link drops with dropped and corrupted packets while two
    # CPU burners run (benchmarks/bench_fault_storm.py runs 300).
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_fault_storm as bench

    load = bench.burners(2, 60)
    try:
        result = asyncio.run(bench.storm(25, 0.6))
    finally:
        for process in load:
            process.kill()
            process.wait()
    assert result.disconnects == 25
    assert result.problems() == []
    assert result.samples > 0 and result.lost >= result.dropped_samples
    assert result.samples + result.lost == pytest.approx(result.timeline, abs=64)
