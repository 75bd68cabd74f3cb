"""Runs INSIDE the tier-B VM: a plain bleak client, on a host the sensor has no bond with, tries
what an eavesdropper would (read the IMU data, write the control point) and prints what BlueZ
answered, as one JSON line. Not tiltmon: the sensor must refuse any client, not just ours.

Usage: python unbonded_probe.py ADDRESS
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDBusError, BleakError, BleakGATTProtocolError

from firmware_sim import protocol as p

FIND_S = 15.0


def outcome(exc: BaseException | None, value: bytes | None = None) -> dict[str, Any]:
    if exc is None:
        return {"ok": True, "value": None if value is None else value.hex()}
    described: dict[str, Any] = {"ok": False, "type": type(exc).__name__, "text": str(exc)}
    if isinstance(exc, BleakDBusError):
        described |= {"dbus_error": exc.dbus_error, "details": exc.dbus_error_details}
    if isinstance(exc, BleakGATTProtocolError):
        described["att_code"] = int(exc.code)
    return described


async def attempt(address: str, what: str) -> dict[str, Any]:
    """One connection, one try: BlueZ answers the sensor's refusal by pairing, and when that
    is refused the kernel drops the link, so each try needs its own connection."""
    device = await BleakScanner.find_device_by_address(address, timeout=FIND_S)
    if device is None:
        return {"ok": False, "type": "not found", "text": f"{address} not found in {FIND_S:.0f} s"}
    async with BleakClient(device, timeout=FIND_S) as client:
        try:
            if what == "read_imu":
                return outcome(None, bytes(await client.read_gatt_char(p.IMU_DATA_UUID)))
            start = bytes([p.Opcode.START_STREAMING])
            await client.write_gatt_char(p.CONTROL_POINT_UUID, start, response=True)
            return outcome(None)
        except BleakError as exc:
            return outcome(exc)


async def probe(address: str) -> dict[str, Any]:
    return {what: await attempt(address, what) for what in ("read_imu", "write_control")}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(sys.argv[1]))))
