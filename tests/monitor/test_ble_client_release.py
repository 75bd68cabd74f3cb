"""The BLE transport releases every client whose link was lost, and asks BlueZ for every
notification (what tier B, tests/bluez, showed real BlueZ needs).

On BlueZ a bleak client keeps its D-Bus connection until ``disconnect()``, even after the
peer dropped the link; bluetoothd then re-enables that old connection's notifications on the
next connect and each reconnect delivered every packet once more (3024 duplicates in 24 s
with three reconnects). StartNotify also lost bursts of WitMotion's 50 notifications a second
under load, which AcquireNotify (``use_start_notify=False``) does not. The virtual radio shows
neither effect, so these tests watch the calls the transport makes on the real backend.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bumble.link import LocalLink

from firmware_sim.models import simulated_device_on_link
from firmware_sim.peripheral import Faults
from firmware_sim.radio import VirtualRadio
from monitor.transport.ble import BleTransport, ReconnectPolicy
from monitor.transport.items import LinkEvent, LinkEventKind

FAST = ReconnectPolicy(first_delay_s=0.05, max_delay_s=0.2, scan_timeout_s=3.0, watchdog_s=2.0)


class Calls:
    def __init__(self) -> None:
        self.disconnects: list[bool] = []  # was the link still up when disconnect() came
        self.notify_args: list[dict[str, Any]] = []


def watched_backend(radio: VirtualRadio, calls: Calls) -> type[Any]:
    base: type[Any] = radio.client_backend

    class WatchedClient(base):  # type: ignore[misc,valid-type]
        async def disconnect(self) -> None:
            calls.disconnects.append(self.is_connected)
            await super().disconnect()

        async def start_notify(self, characteristic: Any, callback: Any, **kwargs: Any) -> None:
            calls.notify_args.append(kwargs)
            await super().start_notify(characteristic, callback, **kwargs)

    return WatchedClient


@pytest.mark.slow
async def test_a_client_whose_link_dropped_is_released_before_the_next_connect() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(
        link, "desk_short", model="tiltmon", faults=Faults(disconnect_every_s=1.0)
    )
    await sensor.start()
    calls = Calls()
    radio = VirtualRadio(link=link)
    lost = 0
    try:
        async with BleTransport(
            None,
            protocols=["tiltmon"],
            policy=FAST,
            scanner_backend=radio.scanner_backend,
            client_backend=watched_backend(radio, calls),
        ) as transport:
            async with asyncio.timeout(60):
                async for item in transport:
                    if isinstance(item, LinkEvent) and item.kind is LinkEventKind.DISCONNECTED:
                        lost += 1
                        # Released as soon as the loss is seen, before any reconnect.
                        assert len(calls.disconnects) == lost
                    if lost == 3:
                        break
    finally:
        await sensor.stop()
        await radio.close()
    assert sensor.counters.disconnects_caused >= 3
    assert calls.disconnects[:3] == [False, False, False]  # the sensor had dropped each link


@pytest.mark.slow
async def test_notifications_are_asked_of_bluez_through_acquire_notify() -> None:
    link = LocalLink()
    sensor = simulated_device_on_link(link, "desk_short", model="witmotion")
    await sensor.start()
    calls = Calls()
    radio = VirtualRadio(link=link)
    try:
        async with BleTransport(
            None,
            protocols=["witmotion"],
            policy=FAST,
            scanner_backend=radio.scanner_backend,
            client_backend=watched_backend(radio, calls),
        ) as transport:
            async with asyncio.timeout(60):
                async for item in transport:
                    if isinstance(item, LinkEvent) and item.kind is LinkEventKind.CONFIGURED:
                        break
    finally:
        await sensor.stop()
        await radio.close()
    data = [kwargs for kwargs in calls.notify_args if "bluez" in kwargs]
    assert data and all(kw["bluez"] == {"use_start_notify": False} for kw in data)
