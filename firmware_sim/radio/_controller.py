"""Virtual controllers on a bumble ``LocalLink``: creating, patching and retiring them.

bumble's virtual :class:`~bumble.controller.Controller` (0.0.236) is good enough to carry real
HCI/LL/L2CAP/ATT traffic between hosts in one process, with a few gaps this module closes:

* ``LE Create Connection Cancel`` is acknowledged but does nothing: the pending connection stays
  armed (the next connect is refused with *Command Disallowed*, and the old one completes
  whenever the target shows up again) and the host never hears the connection-complete event
  that a real controller sends after a cancel. :class:`VirtualController` implements it.
* Nothing takes a controller off the link again. :func:`retire_controller` does, telling the
  peers of its open connections that the link is gone (like a supervision timeout).

Everything here touches bumble internals (``le_connections``, ``pending_le_connection``,
advertisers); the pin ``bumble>=0.0.236,<0.1`` and the tests keep that honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from bumble import hci, ll
from bumble.controller import Controller
from bumble.core import BaseBumbleError
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

logger = logging.getLogger(__name__)

#: HCI reason a peer sees when a device vanishes without saying goodbye.
CONNECTION_TIMEOUT = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR
#: HCI reason for an orderly, user-requested disconnect.
REMOTE_USER_TERMINATED = hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR
#: Upper bound for housekeeping steps that wait on a host.
_HOUSEKEEPING_TIMEOUT = 2.0

# Devices made by new_device_on_link(), with the controller that carries them.
_controllers: weakref.WeakKeyDictionary[Device, VirtualController] = weakref.WeakKeyDictionary()


class VirtualController(Controller):
    """bumble's virtual controller with a working connection cancel and robust disconnect."""

    def on_hci_disconnect_command(self, command: hci.HCI_Disconnect_Command) -> None:
        try:
            super().on_hci_disconnect_command(command)
        except BaseBumbleError:
            # The peer's controller left the link without a word (bumble raises when it
            # cannot deliver LL_TERMINATE_IND). A real controller would give up after the
            # supervision timeout; report the disconnection now instead of never.
            connection = self.find_le_connection_by_handle(command.connection_handle)
            if connection is None:
                raise
            self.on_le_disconnected(
                connection, hci.HCI_ErrorCode.CONNECTION_TERMINATED_BY_LOCAL_HOST_ERROR
            )

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        # Vol 4, Part E, 7.8.13: after the Command Complete, the controller reports the
        # cancelled attempt as an LE Connection Complete with "Unknown Connection Identifier".
        # call_soon keeps that order (the Command Complete is queued when we return).
        failure = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address.address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failure)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


def _terminate_peers(controller: Controller, reason: int) -> None:
    """Send LL_TERMINATE_IND on every open LE connection (peers see ``reason``)."""
    link = controller.link
    if link is None or controller not in link.controllers:
        return  # off the link: it cannot reach anybody
    for connection in list(controller.le_connections.values()):
        # The peer may itself be gone already: then there is nobody left to tell.
        with contextlib.suppress(BaseBumbleError, LookupError, ValueError):
            connection.send_ll_control_pdu(ll.TerminateInd(reason))


def _isolate(controller: Controller) -> None:
    """Take the controller off its link; whatever it still sends reaches nobody."""
    link = controller.link
    if link is not None and controller in link.controllers:
        link.remove_controller(controller)
    controller.link = LocalLink()  # a link of its own


def retire_controller(controller: Controller, reason: int = CONNECTION_TIMEOUT) -> None:
    """Take a controller off its link for good, as if its radio had been switched off.

    Its host (if any) hears nothing more. Peers of its open LE connections see a disconnection
    with ``reason`` (default: connection timeout, what a supervision timeout looks like).
    Idempotent.
    """
    _terminate_peers(controller, reason)
    controller.host = None
    controller.le_connections.clear()
    controller.le_legacy_advertiser.stop()
    for advertising_set in controller.advertising_sets.values():
        advertising_set.stop()
    controller.le_scan_enable = False
    controller.pending_le_connection = None
    _isolate(controller)


async def switch_off(device: Device, reason: int = CONNECTION_TIMEOUT) -> None:
    """Switch off a device made by :func:`new_device_on_link`, host side included.

    Peers see their connections end with ``reason``; the device's own host sees the same
    disconnections (so firmware code reacting to them runs), then is flushed and powered off,
    and the controller is retired. Idempotent.
    """
    controller = controller_of(device)
    if controller is None:
        raise ValueError(f"{device!r} does not run on a virtual controller made here")
    if controller.host is None:  # already retired
        return
    loop = asyncio.get_running_loop()
    _terminate_peers(controller, reason)
    _isolate(controller)  # advertising restarted by the disconnections goes nowhere
    gone: list[asyncio.Future[None]] = []
    for connection in list(device.connections.values()):
        future: asyncio.Future[None] = loop.create_future()
        connection.once(
            connection.EVENT_DISCONNECTION,
            lambda _reason, f=future: f.done() or f.set_result(None),
        )
        gone.append(future)
    for link_connection in list(controller.le_connections.values()):
        controller.on_le_disconnected(link_connection, reason)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_HOUSEKEEPING_TIMEOUT):
            if gone:
                await asyncio.gather(*gone)
            # waits for commands in flight (e.g. advertising restarted on disconnection),
            # then flushes the host
            await device.power_off()
    retire_controller(controller, reason)


def drop_stale_connection(device: Device, connection_handle: int, reason: int) -> bool:
    """Let the controller under ``device`` give up on one connection (a supervision timeout).

    Only possible for devices whose controller lives in this process (see
    :func:`controller_of`); returns whether it was.
    """
    controller = controller_of(device)
    if controller is None:
        return False
    for connection in list(controller.le_connections.values()):
        if connection.handle == connection_handle:
            with contextlib.suppress(BaseBumbleError, LookupError, ValueError):
                connection.send_ll_control_pdu(ll.TerminateInd(reason))
            controller.on_le_disconnected(connection, reason)
            return True
    return False


def new_device_on_link(link: LocalLink, name: str, address: hci.Address | None = None) -> Device:
    """A bumble host + :class:`VirtualController` on ``link``; not powered on yet.

    Needs a running event loop (bumble's controller creates a future).
    """
    controller = VirtualController(name, link=link)
    host = Host(controller, AsyncPipeSink(controller))
    device = Device(
        name=name,
        address=address if address is not None else hci.Address.generate_static_address(),
        host=host,
    )
    _controllers[device] = controller
    return device


def controller_of(device: Device) -> VirtualController | None:
    """The in-process controller carrying a device made by :func:`new_device_on_link`."""
    return _controllers.get(device)
