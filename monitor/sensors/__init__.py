"""One module per wire protocol, and the registry that finds them by name or advertisement.

Adding a sensor family means adding one module here (and its simulated device in firmware_sim,
and their tests): the stream, the recorder and the BLE transport ask this registry and nothing
else. See docs/architecture.md, "Adding a sensor protocol".
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.sensors import metamotion, movesense, polar, thingy, tiltmon, witmotion
from monitor.sensors.base import (
    DecodedPacket,
    FrameDecoder,
    GattLink,
    SensorProtocol,
    StreamFormat,
    StreamSettings,
    Timing,
    recognises,
)

PROTOCOLS: dict[str, SensorProtocol] = {
    p.name: p
    for p in (
        tiltmon.PROTOCOL,
        witmotion.PROTOCOL,
        polar.PROTOCOL,
        movesense.PROTOCOL,
        metamotion.PROTOCOL,
        thingy.PROTOCOL,
    )
}
DEFAULT_PROTOCOL = tiltmon.NAME


def protocol(name: str) -> SensorProtocol:
    """The protocol module registered under ``name``."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(
            f"unknown sensor protocol {name!r}: use one of {', '.join(PROTOCOLS)}"
        ) from None


def recognise(
    name: str, service_uuids: Sequence[str], among: Sequence[SensorProtocol] | None = None
) -> SensorProtocol | None:
    """The protocol an advertisement belongs to, if any of ``among`` (default: all) knows it."""
    for candidate in among if among is not None else PROTOCOLS.values():
        if recognises(candidate, name, service_uuids):
            return candidate
    return None


__all__ = [
    "DEFAULT_PROTOCOL",
    "PROTOCOLS",
    "DecodedPacket",
    "FrameDecoder",
    "GattLink",
    "SensorProtocol",
    "StreamFormat",
    "StreamSettings",
    "Timing",
    "protocol",
    "recognise",
]
