"""Serving a virtual link to other processes over loopback TCP, and peripherals on a link.

:func:`serve_link` is the in-process equivalent of ``python -m bumble.apps.controllers
tcp-server:127.0.0.1:PORT``, shaped for tests and for ``tiltmon``'s simulator:

* it listens on a loopback address only (``127.0.0.1`` by default; anything that is not a
  loopback address is refused), on an ephemeral port unless told otherwise;
* every TCP client gets a fresh virtual controller on the link, speaking H4-framed HCI, so a
  client process that restarts finds a clean controller, and one that dies is taken off the
  link with its connections terminated (the peripheral sees a connection timeout and can
  advertise again);
* the same :class:`~bumble.link.LocalLink` is available in-process for simulated peripherals
  (:func:`new_peripheral_device`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bumble import hci
from bumble.core import BaseBumbleError
from bumble.device import Device
from bumble.link import LocalLink
from bumble.transport.common import PacketParser

from firmware_sim.radio._controller import (
    CONNECTION_TIMEOUT,
    VirtualController,
    new_device_on_link,
    retire_controller,
    switch_off,
)
from firmware_sim.radio.core import RADIO_ENV_VAR

logger = logging.getLogger(__name__)

#: Advertising interval given to new peripheral devices (fast discovery in simulations).
DEFAULT_ADVERTISING_INTERVAL_MS = 20.0


# =========================================================================================
# Peripherals on a link
# =========================================================================================
def new_peripheral_device(
    link: LocalLink,
    name: str,
    *,
    address: hci.Address | str | None = None,
    advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS,
) -> Device:
    """A bumble Device with its own virtual controller on ``link``, ready for a GATT server.

    The address defaults to a fresh random static address. The device is not powered on:
    add services, set ``advertising_data``, then ``await device.power_on()`` and
    ``await device.start_advertising(auto_restart=True)``. Must be called with an event loop
    running. Take it off the link again with :func:`remove_peripheral_device`.
    """
    if isinstance(address, str):
        address = hci.Address(address)
    device = new_device_on_link(link, name, address)
    device.advertising_interval_min = advertising_interval_ms
    device.advertising_interval_max = advertising_interval_ms
    return device


async def remove_peripheral_device(device: Device, *, reason: int = CONNECTION_TIMEOUT) -> None:
    """Switch a device from :func:`new_peripheral_device` off, as if its battery died.

    Its peers see their connections end with ``reason`` (default: connection timeout), and so
    does the device itself (firmware code reacting to disconnections runs); then its host is
    powered off and its controller leaves the link. Idempotent.
    """
    await switch_off(device, reason)


# =========================================================================================
# Serving the link over loopback TCP
# =========================================================================================
def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"serve_link binds loopback addresses only, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"serve_link binds loopback addresses only, not {host!r}")
    return str(address)


class _HciConnection(asyncio.Protocol):
    """One TCP client = one host; it gets its own virtual controller on the link."""

    def __init__(self, served: ServedLink) -> None:
        self._served = served
        self._transport: asyncio.Transport | None = None
        self._controller: VirtualController | None = None
        self._parser: PacketParser | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._served._connections.add(self)
        self._served._changed.set()
        index = self._served._next_index()
        self._controller = VirtualController(f"served-{index}", link=self._served.link)
        self._controller.host = self
        self._parser = PacketParser(self._controller)
        logger.debug("HCI client %s attached as controller %d", self._peer_name(), index)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.feed_data(data)
        except Exception:  # a bad packet must not kill the server or the other clients
            logger.exception("HCI client %s: bad data; dropping the client", self._peer_name())
            if self._transport is not None:
                self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        logger.debug("HCI client %s gone (%r)", self._peer_name(), exc)
        controller, self._controller = self._controller, None
        self._parser = None
        if controller is not None:
            with contextlib.suppress(BaseBumbleError, LookupError, ValueError):
                retire_controller(controller, CONNECTION_TIMEOUT)
        self._served._connections.discard(self)
        self._served._changed.set()
        if not self.closed.done():
            self.closed.set_result(None)

    # controller -> host -----------------------------------------------------------------
    def on_packet(self, packet: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(packet)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _peer_name(self) -> str:
        if self._transport is None:
            return "?"
        return str(self._transport.get_extra_info("peername"))


@dataclass(eq=False)
class ServedLink:
    """A virtual link with a loopback TCP door for hosts in other processes."""

    link: LocalLink
    host: str
    port: int
    _connections: set[_HciConnection] = field(default_factory=set, repr=False)
    _count: int = field(default=0, repr=False)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def transport_spec(self) -> str:
        """What a remote radio opens: ``tcp-client:HOST:PORT``."""
        return f"tcp-client:{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a client process: ``{"TILTMON_RADIO": transport_spec}``."""
        return {RADIO_ENV_VAR: self.transport_spec}

    @property
    def client_count(self) -> int:
        """How many remote hosts are attached right now."""
        return len(self._connections)

    async def wait_for_clients(self, count: int) -> None:
        """Wait until exactly ``count`` remote hosts are attached (bound it with a timeout)."""
        while len(self._connections) != count:
            self._changed.clear()
            await self._changed.wait()

    def _next_index(self) -> int:
        self._count += 1
        return self._count


@contextlib.asynccontextmanager
async def serve_link(
    host: str = "127.0.0.1", port: int = 0, *, link: LocalLink | None = None
) -> AsyncIterator[ServedLink]:
    """Serve ``link`` (a new one by default) to remote bumble hosts on ``host:port``.

    ``port=0`` picks a free ephemeral port; read it back from ``served.port``. On exit the
    listener closes, remote hosts are disconnected and their controllers leave the link.
    """
    bind_host = _loopback_host(host)
    served_link = link if link is not None else LocalLink()
    loop = asyncio.get_running_loop()
    served: ServedLink | None = None

    def factory() -> _HciConnection:
        assert served is not None
        return _HciConnection(served)

    server = await loop.create_server(factory, host=bind_host, port=port)
    bound_port = int(server.sockets[0].getsockname()[1])
    served = ServedLink(link=served_link, host=bind_host, port=bound_port)
    logger.info("virtual link served on %s", served.transport_spec)
    try:
        yield served
    finally:
        server.close()
        connections = list(served._connections)
        for connection in connections:
            connection.close()
        if connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await asyncio.gather(*(c.closed for c in connections))
        await server.wait_closed()
