"""Pairing a sensor through BlueZ (Linux), with the agent BlueZ needs for it.

bleak's BlueZ backend pairs by calling Device1.Pair and registers no agent. Linux asks user
space to confirm even a Just Works pairing (the sensor has no display or keys, so there is
nothing to compare), and bluetoothd refuses it when no agent answers: on a desktop its own agent
pops up a dialog, on a server or a bare system the pairing fails. So tiltmon pairs here: it
registers an agent (NoInputNoOutput) on its own D-Bus connection, asks for the pairing from that
same connection (bluetoothd consults the caller's agent first), accepts the confirmation for
the one device the user asked to pair and nothing else, and unregisters.

A device bluetoothd already holds a bond with is left alone: it encrypts the link with that bond
by itself when it connects, and Pair() on it would try to bond the other transport (BR/EDR),
which a BLE-only sensor never answers.
"""

import contextlib
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt16, DBusUInt32
from dbus_fast.service import ServiceInterface, method

AGENT_PATH = "/org/tiltmon/pairing_agent"
_REJECTED = "org.bluez.Error.Rejected"
_ALREADY_EXISTS = "org.bluez.Error.AlreadyExists"


class BluezError(Exception):
    """bluetoothd answered with an error: its D-Bus name, and what it said."""

    def __init__(self, name: str, details: str) -> None:
        super().__init__(name, details)
        self.name = name
        self.details = details


class JustWorksAgent(ServiceInterface):
    """org.bluez.Agent1 for one pairing: confirms Just Works for ``device_path`` only."""

    def __init__(self, device_path: str) -> None:
        super().__init__("org.bluez.Agent1")
        self.device_path = device_path
        self.confirmed = 0

    def _only_ours(self, device: str) -> None:
        if device != self.device_path:
            raise DBusError(_REJECTED, "tiltmon pairs only the sensor it was asked to")

    @method()
    def Release(self) -> None:
        return None

    @method()
    def RequestConfirmation(self, device: DBusObjectPath, passkey: DBusUInt32) -> None:
        self._only_ours(device)
        self.confirmed += 1

    @method()
    def RequestAuthorization(self, device: DBusObjectPath) -> None:
        self._only_ours(device)
        self.confirmed += 1

    @method()
    def AuthorizeService(self, device: DBusObjectPath, uuid: DBusStr) -> None:
        raise DBusError(_REJECTED, "tiltmon authorises no services")

    @method()
    def RequestPinCode(self, device: DBusObjectPath) -> DBusStr:
        raise DBusError(_REJECTED, "a tiltmon sensor has no PIN")

    @method()
    def RequestPasskey(self, device: DBusObjectPath) -> DBusUInt32:
        raise DBusError(_REJECTED, "a tiltmon sensor has no passkey")

    @method()
    def DisplayPasskey(
        self, device: DBusObjectPath, passkey: DBusUInt32, entered: DBusUInt16
    ) -> None:
        return None

    @method()
    def DisplayPinCode(self, device: DBusObjectPath, pincode: DBusStr) -> None:
        return None

    @method()
    def Cancel(self) -> None:
        return None


async def _call(
    bus: MessageBus, path: str, interface: str, member: str, signature: str = "", body: Any = ()
) -> Message:
    reply = await bus.call(
        Message(
            destination="org.bluez",
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=list(body),
        )
    )
    assert reply is not None
    return reply


async def bluez_pair(device_path: str) -> bool:
    """Pair the BlueZ device at ``device_path`` (False: it already was); :class:`BluezError`
    when bluetoothd refuses or the pairing fails."""
    bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=False).connect()
    try:
        reply = await _call(
            bus,
            device_path,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            ["org.bluez.Device1", "Paired"],
        )
        _raise_for(reply)
        paired = reply.body[0]
        if isinstance(paired, Variant) and paired.value is True:
            return False
        bus.export(AGENT_PATH, JustWorksAgent(device_path))
        reply = await _call(
            bus,
            "/org/bluez",
            "org.bluez.AgentManager1",
            "RegisterAgent",
            "os",
            [AGENT_PATH, "NoInputNoOutput"],
        )
        _raise_for(reply)
        try:
            reply = await _call(bus, device_path, "org.bluez.Device1", "Pair")
        finally:
            with contextlib.suppress(Exception):  # gone with the connection anyway
                await _call(
                    bus,
                    "/org/bluez",
                    "org.bluez.AgentManager1",
                    "UnregisterAgent",
                    "o",
                    [AGENT_PATH],
                )
        if reply.message_type == MessageType.ERROR and reply.error_name == _ALREADY_EXISTS:
            return False
        _raise_for(reply)
        return True
    finally:
        bus.disconnect()


def _raise_for(reply: Message) -> None:
    if reply.message_type == MessageType.ERROR:
        details = str(reply.body[0]) if reply.body else ""
        raise BluezError(reply.error_name or "org.bluez.Error.Failed", details)
