"""The pairing agent tiltmon registers with BlueZ, answering over a real D-Bus daemon as
bluetoothd would ask it. (Pairing through bluetoothd itself runs in tier B, tests/bluez.)"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from monitor.transport.bluez_pairing import AGENT_PATH, JustWorksAgent

OURS = "/org/bluez/hci0/dev_C9_B4_5F_D9_4A_35"
OTHER = "/org/bluez/hci0/dev_11_22_33_44_55_66"

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")


@pytest.fixture
def bus_address() -> Iterator[str]:
    """A private D-Bus daemon."""
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it warns it may not raise its file limit: harmless
        text=True,
    )
    try:
        assert daemon.stdout is not None
        yield daemon.stdout.readline().strip()
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        if daemon.stdout is not None:
            daemon.stdout.close()


@pytest.fixture
async def buses(bus_address: str) -> AsyncIterator[tuple[MessageBus, MessageBus, JustWorksAgent]]:
    """The agent's connection, and one that calls it as bluetoothd does."""
    agent_bus = await MessageBus(bus_address=bus_address).connect()
    caller = await MessageBus(bus_address=bus_address).connect()
    agent = JustWorksAgent(OURS)
    agent_bus.export(AGENT_PATH, agent)
    yield agent_bus, caller, agent
    caller.disconnect()
    agent_bus.disconnect()


async def ask(
    buses: tuple[MessageBus, MessageBus, JustWorksAgent],
    member: str,
    signature: str,
    body: list[object],
) -> Message:
    agent_bus, caller, _ = buses
    reply = await caller.call(
        Message(
            destination=agent_bus.unique_name,
            path=AGENT_PATH,
            interface="org.bluez.Agent1",
            member=member,
            signature=signature,
            body=body,
        )
    )
    assert reply is not None
    return reply


async def test_just_works_is_confirmed_for_the_sensor_being_paired(
    buses: tuple[MessageBus, MessageBus, JustWorksAgent],
) -> None:
    reply = await ask(buses, "RequestConfirmation", "ou", [OURS, 0])
    assert reply.message_type == MessageType.METHOD_RETURN
    reply = await ask(buses, "RequestAuthorization", "o", [OURS])
    assert reply.message_type == MessageType.METHOD_RETURN
    assert buses[2].confirmed == 2


@pytest.mark.parametrize(
    ("member", "signature", "body"),
    [
        ("RequestConfirmation", "ou", [OTHER, 123456]),  # another device pairing meanwhile
        ("RequestAuthorization", "o", [OTHER]),
        ("RequestPasskey", "o", [OURS]),  # a sensor has no keys: someone else is asking
        ("RequestPinCode", "o", [OURS]),
        ("AuthorizeService", "os", [OURS, "0000110b-0000-1000-8000-00805f9b34fb"]),
    ],
)
async def test_anything_else_is_rejected(
    buses: tuple[MessageBus, MessageBus, JustWorksAgent],
    member: str,
    signature: str,
    body: list[object],
) -> None:
    reply = await ask(buses, member, signature, body)
    assert reply.message_type == MessageType.ERROR
    assert reply.error_name == "org.bluez.Error.Rejected"
    assert buses[2].confirmed == 0
