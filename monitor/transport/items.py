"""What every transport yields: raw notifications and link events, stamped with host time.

A transport is the only place that knows where bytes come from (a BLE sensor, the simulator on
the virtual radio, a recording). Everything downstream consumes these two value types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from monitor.sensors.base import StreamFormat


@dataclass(frozen=True, slots=True)
class Notification:
    """One IMU-data notification exactly as it arrived."""

    received_at: float  # host wall-clock seconds (time.time())
    payload: bytes


class LinkEventKind(enum.StrEnum):
    CONNECTED = "connected"  # link up, before configuration
    CONFIGURED = "configured"  # sensor configured and streaming: carries its StreamFormat
    DISCONNECTED = "disconnected"  # link lost (or closed, when `expected`)
    RECONNECTING = "reconnecting"  # a new attempt is about to start
    STALLED = "stalled"  # link up but no data for the watchdog's time
    BATTERY = "battery"  # battery level changed: carries `battery_percent`
    DEVICE_INFO = "device_info"  # identity read after connecting: carries `device_info`
    ADAPTER_LOST = "adapter_lost"  # the Bluetooth adapter (or virtual radio) went away
    ADAPTER_BACK = "adapter_back"  # ... and was opened again


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    name: str
    address: str
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    hardware: str = ""
    firmware: str = ""


@dataclass(frozen=True, slots=True)
class LinkEvent:
    at: float  # host wall-clock seconds
    kind: LinkEventKind
    detail: str = ""
    config: StreamFormat | None = None  # what the sensor streams, and in which protocol
    battery_percent: int | None = None
    device_info: DeviceInfo | None = None
    expected: bool = False  # a disconnect we asked for


TransportItem = Notification | LinkEvent
