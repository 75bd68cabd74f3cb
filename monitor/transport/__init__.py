"""Transports: where raw notifications come from, chosen by a short moniker.

``ble`` or ``ble:NAME_OR_ADDRESS``  a sensor over Bluetooth LE (the platform's stack, or the
                                    virtual radio named by ``radio=``/``$TILTMON_RADIO``)
``sim`` or ``sim:SCENARIO``         the simulated sensor on an in-process virtual radio
``replay:FILE``                     a recorded session played back (``speed=``, controls)

Every transport is an async context manager and an async iterator of
:data:`~monitor.transport.items.TransportItem`; adapters are imported lazily so that, say,
analysing a file never loads bleak.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Protocol, Self

from monitor.transport.items import TransportItem


class Transport(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[TransportItem]: ...

    @property
    def overflowed(self) -> int:
        """Packets dropped because the consumer fell behind (each also shows as a gap)."""
        ...


TRANSPORT_KINDS = ("ble", "sim", "replay")


def open_transport(moniker: str, **options: Any) -> Transport:
    """Build the transport a moniker names; ``options`` go to its constructor."""
    kind, _, argument = moniker.partition(":")
    if kind == "ble":
        from monitor.transport.ble import BleTransport

        return BleTransport(argument or None, **options)
    if kind == "sim":
        from monitor.transport.sim import SimulatedSensorTransport

        return SimulatedSensorTransport(argument or "desk_short", **options)
    if kind == "replay" and argument:
        from monitor.transport.replay import ReplayTransport

        return ReplayTransport(argument, **options)
    raise ValueError(
        f"unknown transport {moniker!r}: use one of "
        + ", ".join(f"{k}:..." for k in TRANSPORT_KINDS)
    )
