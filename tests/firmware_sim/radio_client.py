"""Client process for test_radio's cross-process test.

Finds a peripheral by service UUID over the radio named by ``$TILTMON_RADIO``, subscribes to a
characteristic, collects ``count`` notifications (4-byte little-endian sequence numbers) and
prints a JSON summary on stdout. Usage: ``python radio_client.py SERVICE CHAR COUNT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic

from firmware_sim.radio import BumbleClient, BumbleScanner, close_default_radio


async def run(service: str, char: str, count: int) -> dict[str, Any]:
    try:
        device = await BleakScanner.find_device_by_filter(
            lambda _device, _adv: True, timeout=10, service_uuids=[service], backend=BumbleScanner
        )
        if device is None:
            return {"error": "peripheral not found"}
        received: list[int] = []
        enough = asyncio.Event()

        def on_notify(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
            received.append(int.from_bytes(data[:4], "little"))
            if len(received) >= count:
                enough.set()

        async with BleakClient(device, backend=BumbleClient, timeout=10) as client:
            await client.start_notify(char, on_notify)
            async with asyncio.timeout(10):
                await enough.wait()
            await client.stop_notify(char)
            return {
                "name": device.name,
                "address": device.address,
                "mtu": client.mtu_size,
                "received": received,
            }
    finally:
        await close_default_radio()


def main() -> None:
    service, char, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(asyncio.run(run(service, char, count))), flush=True)


if __name__ == "__main__":
    main()
