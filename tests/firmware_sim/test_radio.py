"""The virtual radio: unchanged bleak against a real bumble GATT peripheral, no mocks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import struct
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak_retry_connector import establish_connection
from bumble import att, data_types, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.link import LocalLink

from firmware_sim.radio import (
    RADIO_ENV_VAR,
    AdvertisementAccumulator,
    BumbleClient,
    BumbleScanner,
    VirtualRadio,
    close_default_radio,
    new_peripheral_device,
    remove_peripheral_device,
    serve_link,
)

SERVICE = "7e1f0001-6a3b-4c1e-9d7a-2f5e8b0c4d10"
NOTIFY_CHAR = "7e1f0002-6a3b-4c1e-9d7a-2f5e8b0c4d10"
INDICATE_CHAR = "7e1f0003-6a3b-4c1e-9d7a-2f5e8b0c4d10"
RW_CHAR = "7e1f0004-6a3b-4c1e-9d7a-2f5e8b0c4d10"
LOCKED_CHAR = "7e1f0005-6a3b-4c1e-9d7a-2f5e8b0c4d10"
OTHER_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"  # heart rate: nobody here offers it
NAME = "TiltTest"  # flags (3) + 128-bit UUID (18) + name (10) = a full 31-byte legacy ADV
REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SCRIPT = Path(__file__).with_name("radio_client.py")


# =========================================================================================
# A small GATT peripheral, defined here so these tests depend on nothing but the radio
# =========================================================================================
class Peripheral:
    """Streams sequence numbers on NOTIFY_CHAR while subscribed, indicates on demand."""

    def __init__(self, link: LocalLink, name: str = NAME, rate_hz: float = 200.0) -> None:
        self.name = name
        self.rate_hz = rate_hz
        self.device = new_peripheral_device(link, name)
        self.rw_value = b"\x01\x02"
        self.notify_subscribed = asyncio.Event()
        self.notify_unsubscribed = asyncio.Event()
        self.disconnected = asyncio.Event()
        self.sent = 0
        self._stream: asyncio.Task[None] | None = None
        props, perms = Characteristic.Properties, Characteristic.Permissions
        self.notify_char: Characteristic[bytes] = Characteristic(
            NOTIFY_CHAR, props.READ | props.NOTIFY, perms.READABLE, bytes(4)
        )
        self.indicate_char: Characteristic[bytes] = Characteristic(
            INDICATE_CHAR, props.INDICATE, perms.READABLE, b""
        )
        self.rw_char: Characteristic[bytes] = Characteristic(
            RW_CHAR,
            props.READ | props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            perms.READABLE | perms.WRITEABLE,
            CharacteristicValue(read=lambda _c: self.rw_value, write=self._on_rw_write),
        )
        # bumble's GATT server does not enforce write permissions: the firmware must refuse
        self.locked_char: Characteristic[bytes] = Characteristic(
            LOCKED_CHAR,
            props.READ | props.WRITE,
            perms.READABLE,
            CharacteristicValue(read=lambda _c: b"locked", write=self._refuse_write),
        )
        chars = [self.notify_char, self.indicate_char, self.rw_char, self.locked_char]
        self.device.add_services([Service(SERVICE, chars)])
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    data_types.Flags(
                        AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                        | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
                    ),
                    data_types.CompleteListOf128BitServiceUUIDs([UUID(SERVICE)]),
                    data_types.CompleteLocalName(name),
                ]
            )
        )
        self.device.on("characteristic_subscription", self._on_subscription)
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(auto_restart=True)

    async def close(self) -> None:
        await self._stop_stream()
        await remove_peripheral_device(self.device)

    def _on_rw_write(self, _connection: Connection, value: bytes) -> None:
        self.rw_value = bytes(value)

    def _refuse_write(self, _connection: Connection, _value: bytes) -> None:
        raise att.ATT_Error(att.ErrorCode.WRITE_NOT_PERMITTED)

    def _on_connection(self, connection: Connection) -> None:
        self.disconnected.clear()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, _reason: int) -> None:
        self.disconnected.set()
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None

    def _on_subscription(
        self, _bearer: Any, characteristic: Characteristic[bytes], notify: bool, _indicate: bool
    ) -> None:
        if characteristic is not self.notify_char:
            return
        if notify and self._stream is None:
            self.notify_unsubscribed.clear()
            self._stream = asyncio.get_running_loop().create_task(self._run_stream())
            self.notify_subscribed.set()
        elif not notify:
            self.notify_subscribed.clear()
            self.notify_unsubscribed.set()
            if self._stream is not None:
                self._stream.cancel()
                self._stream = None

    async def _run_stream(self) -> None:
        loop = asyncio.get_running_loop()
        start, seq = loop.time(), 0
        while True:  # absolute schedule: no drift
            await self.device.notify_subscribers(self.notify_char, struct.pack("<I", seq))
            self.sent += 1
            seq += 1
            await asyncio.sleep(max(0.0, start + seq / self.rate_hz - loop.time()))

    async def _stop_stream(self) -> None:
        task, self._stream = self._stream, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def indicate(self, value: bytes) -> None:
        await self.device.indicate_subscribers(self.indicate_char, value)

    async def drop_links(self) -> None:
        """Peripheral-initiated disconnect (the sensor ends the connection)."""
        for connection in list(self.device.connections.values()):
            await connection.disconnect()


class Collector:
    """A notification callback that records values and wakes waiters."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self._changed = asyncio.Event()

    def __call__(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        assert isinstance(data, bytearray)
        self.values.append(bytes(data))
        self._changed.set()

    async def wait_for(self, count: int) -> None:
        """Wait for ``count`` values in total, at most 5 s."""
        async with asyncio.timeout(5):
            while len(self.values) < count:
                self._changed.clear()
                await self._changed.wait()


async def find_sensor(radio: VirtualRadio, service: str = SERVICE) -> BLEDevice:
    device = await BleakScanner.find_device_by_filter(
        lambda _d, _ad: True, timeout=5, service_uuids=[service], backend=radio.scanner_backend
    )
    assert device is not None
    return device


# =========================================================================================
# Fixtures
# =========================================================================================
@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    await asyncio.sleep(0)
    leaked = {
        task
        for task in asyncio.all_tasks() - before
        if not task.done() and task is not asyncio.current_task()
    }
    assert not leaked, f"tasks left running: {leaked}"


@pytest.fixture
def link() -> LocalLink:
    return LocalLink()


@pytest.fixture
async def peripheral(link: LocalLink) -> AsyncIterator[Peripheral]:
    sensor = Peripheral(link)
    await sensor.start()
    yield sensor
    await sensor.close()


@pytest.fixture
async def radio(link: LocalLink) -> AsyncIterator[VirtualRadio]:
    async with VirtualRadio(link=link) as central:
        yield central
    assert central.is_closed


# =========================================================================================
# Advertising data
# =========================================================================================
def test_accumulator_decodes_and_merges_ad_structures() -> None:
    acc = AdvertisementAccumulator()
    acc.update(
        [
            (0x01, b"\x06"),
            (0x03, bytes.fromhex("0d18 0f18")),
            (0x05, bytes.fromhex("78563412")),
            (0x07, UUID(SERVICE).to_bytes(force_128=True)),
            (0x08, b"Tilt"),
            (0x16, bytes.fromhex("0f18") + b"\x64"),
            (0xFF, bytes.fromhex("5900") + b"hello"),
            (0x0A, b"\xf8"),
        ]
    )
    acc.update([(0x09, b"TiltTest"), (0x08, b"T"), (0x03, bytes.fromhex("0d18"))])
    acc.update([(0xFF, bytes.fromhex("5900") + b"again")])
    ad = acc.snapshot(rssi=-61, platform_data=("raw",))
    assert ad.local_name == "TiltTest"  # complete name wins over shortened ones
    assert ad.service_uuids == [
        "0000180d-0000-1000-8000-00805f9b34fb",
        "0000180f-0000-1000-8000-00805f9b34fb",
        "12345678-0000-1000-8000-00805f9b34fb",
        SERVICE,
    ]
    assert ad.service_data == {"0000180f-0000-1000-8000-00805f9b34fb": b"\x64"}
    assert ad.manufacturer_data == {0x0059: b"again"}
    assert ad.tx_power == -8
    assert ad.rssi == -61
    assert ad.platform_data == ("raw",)


# =========================================================================================
# Scanning
# =========================================================================================
async def test_scan_by_service_uuid_and_by_name(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    by_uuid = await find_sensor(radio)
    assert by_uuid.address == str(peripheral.device.random_address.to_string(False))
    assert by_uuid.name == NAME

    by_name = await BleakScanner.find_device_by_name(NAME, timeout=5, backend=radio.scanner_backend)
    assert by_name is not None
    assert by_name.address == by_uuid.address

    nobody = await BleakScanner.find_device_by_filter(
        lambda _d, _ad: True,
        timeout=0.3,
        service_uuids=[OTHER_SERVICE],
        backend=radio.scanner_backend,
    )
    assert nobody is None


@pytest.mark.parametrize("mode", ["active", "passive"])
async def test_discover_return_adv(
    radio: VirtualRadio, peripheral: Peripheral, mode: Literal["active", "passive"]
) -> None:
    found = await BleakScanner.discover(
        timeout=0.2, return_adv=True, scanning_mode=mode, backend=radio.scanner_backend
    )
    address = str(peripheral.device.random_address.to_string(False))
    device, adv = found[address]
    assert device.name == NAME
    assert adv.local_name == NAME
    assert adv.service_uuids == [SERVICE]
    assert adv.rssi == -50  # bumble's virtual controller reports a fixed RSSI


async def test_advertisement_data_iterator(radio: VirtualRadio, peripheral: Peripheral) -> None:
    async with BleakScanner(service_uuids=[SERVICE], backend=radio.scanner_backend) as scanner:
        async with asyncio.timeout(5):
            async for device, adv in scanner.advertisement_data():
                assert adv.local_name == NAME
                assert device.address == str(peripheral.device.random_address.to_string(False))
                break
    assert scanner.backend_id == "BumbleScanner"


async def test_concurrent_scanners_share_the_radio(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    heard = {"active": asyncio.Event(), "passive": asyncio.Event()}
    active = BleakScanner(lambda _d, _ad: heard["active"].set(), backend=radio.scanner_backend)
    passive = BleakScanner(
        lambda _d, _ad: heard["passive"].set(),
        scanning_mode="passive",
        backend=radio.scanner_backend,
    )
    async with passive:
        async with active, asyncio.timeout(5):
            await asyncio.gather(heard["active"].wait(), heard["passive"].wait())
        heard["passive"].clear()  # the active scanner stopped; the passive one keeps going
        async with asyncio.timeout(5):
            await heard["passive"].wait()
    assert not radio.device.is_scanning


# =========================================================================================
# Connection and GATT
# =========================================================================================
async def test_connect_discover_read_write(radio: VirtualRadio, peripheral: Peripheral) -> None:
    device = await find_sensor(radio)
    async with BleakClient(device, backend=radio.client_backend, timeout=5) as client:
        assert client.is_connected
        assert client.backend_id == "BumbleClient"
        assert client.name == NAME
        assert client.mtu_size == 247

        service = client.services.get_service(SERVICE)
        assert service is not None
        chars = {c.uuid: c for c in service.characteristics}
        assert set(chars) == {NOTIFY_CHAR, INDICATE_CHAR, RW_CHAR, LOCKED_CHAR}
        assert chars[NOTIFY_CHAR].properties == ["read", "notify"]
        assert chars[INDICATE_CHAR].properties == ["indicate"]
        assert chars[RW_CHAR].properties == ["read", "write-without-response", "write"]
        assert chars[RW_CHAR].max_write_without_response_size == 244
        cccd = chars[NOTIFY_CHAR].get_descriptor("00002902-0000-1000-8000-00805f9b34fb")
        assert cccd is not None
        assert await client.read_gatt_descriptor(cccd.handle) == b"\x00\x00"

        assert await client.read_gatt_char(RW_CHAR) == b"\x01\x02"
        await client.write_gatt_char(RW_CHAR, b"\x10\x20\x30", response=True)
        assert peripheral.rw_value == b"\x10\x20\x30"
        assert await client.read_gatt_char(RW_CHAR, use_cached=True) == b"\x01\x02"
        assert await client.read_gatt_char(RW_CHAR) == b"\x10\x20\x30"
        await client.write_gatt_char(RW_CHAR, bytearray(b"\x77"), response=False)
        # ATT is in order: the read answers after the command was applied
        assert await client.read_gatt_char(RW_CHAR) == b"\x77"
        long_value = bytes(range(200)) * 2  # > MTU: write long with prepare/execute
        await client.write_gatt_char(RW_CHAR, long_value, response=True)
        assert await client.read_gatt_char(RW_CHAR) == long_value


async def test_services_filter(radio: VirtualRadio, peripheral: Peripheral) -> None:
    device = await find_sensor(radio)
    async with BleakClient(
        device, services=[SERVICE], backend=radio.client_backend, timeout=5
    ) as client:
        assert [s.uuid for s in client.services] == [SERVICE]


async def test_att_error_is_bleak_gatt_protocol_error(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    device = await find_sensor(radio)
    async with BleakClient(device, backend=radio.client_backend, timeout=5) as client:
        with pytest.raises(BleakGATTProtocolError) as caught:
            await client.write_gatt_char(LOCKED_CHAR, b"\x00", response=True)
        assert caught.value.code == BleakGATTProtocolErrorCode.WRITE_NOT_PERMITTED
        assert await client.read_gatt_char(LOCKED_CHAR) == b"locked"  # link still fine


async def test_notifications_at_200hz_arrive_in_order_and_stop(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    device = await find_sensor(radio)
    async with BleakClient(device, backend=radio.client_backend, timeout=5) as client:
        received = Collector()
        started = time.monotonic()
        await client.start_notify(NOTIFY_CHAR, received)
        await received.wait_for(200)
        elapsed = time.monotonic() - started
        await client.stop_notify(NOTIFY_CHAR)
        async with asyncio.timeout(5):
            await peripheral.notify_unsubscribed.wait()

        seqs = [struct.unpack("<I", value)[0] for value in received.values]
        assert seqs == list(range(len(seqs)))  # none lost, none reordered
        assert elapsed > 0.9  # a real ~1 s stream: the peripheral paces itself at 200 Hz
        count = len(received.values)
        await client.read_gatt_char(RW_CHAR)  # a round trip after the unsubscription
        assert len(received.values) == count
        with pytest.raises(BleakError):
            await client.stop_notify(NOTIFY_CHAR)  # not started any more


async def test_indications(radio: VirtualRadio, peripheral: Peripheral) -> None:
    device = await find_sensor(radio)
    async with BleakClient(device, backend=radio.client_backend, timeout=5) as client:
        received = Collector()
        await client.start_notify(INDICATE_CHAR, received)
        with pytest.raises(BleakError):
            await client.start_notify(INDICATE_CHAR, received)  # already started
        for value in (b"one", b"two", b"three"):
            await peripheral.indicate(value)  # returns once the client confirmed
        await received.wait_for(3)
        assert received.values == [b"one", b"two", b"three"]
        await client.stop_notify(INDICATE_CHAR)
        await peripheral.indicate(b"four")  # not subscribed: nothing is sent
        await client.read_gatt_char(RW_CHAR)
        assert received.values == [b"one", b"two", b"three"]


async def test_async_notification_callback(radio: VirtualRadio, peripheral: Peripheral) -> None:
    device = await find_sensor(radio)
    got = asyncio.Event()

    async def on_notify(_sender: BleakGATTCharacteristic, _data: bytearray) -> None:
        got.set()

    async with BleakClient(device, backend=radio.client_backend, timeout=5) as client:
        await client.start_notify(NOTIFY_CHAR, on_notify)
        async with asyncio.timeout(5):
            await got.wait()
        await client.stop_notify(NOTIFY_CHAR)


async def test_pair_and_unpair(radio: VirtualRadio, peripheral: Peripheral) -> None:
    device = await find_sensor(radio)
    client = BleakClient(device, pair=True, backend=radio.client_backend, timeout=5)
    await client.connect()  # pairs (Just Works) before returning
    assert [c.is_encrypted for c in radio.device.connections.values()] == [True]
    keystore = radio.device.keystore
    assert keystore is not None
    assert [name for name, _keys in await keystore.get_all()] == [device.address]
    assert await client.read_gatt_char(RW_CHAR) == b"\x01\x02"
    await client.unpair()  # forgets the keys and disconnects
    assert not client.is_connected
    assert await keystore.get_all() == []


# =========================================================================================
# Disconnects and reconnects
# =========================================================================================
async def test_peripheral_disconnect_then_reconnect_with_retry_connector(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    device = await find_sensor(radio)
    lost: list[BleakClient] = []
    lost_event = asyncio.Event()

    def on_lost(client: BleakClient) -> None:
        lost.append(client)
        lost_event.set()

    client = BleakClient(
        device, disconnected_callback=on_lost, backend=radio.client_backend, timeout=5
    )
    await client.connect()
    await client.start_notify(NOTIFY_CHAR, Collector())
    await peripheral.drop_links()  # the sensor hangs up
    async with asyncio.timeout(5):
        await lost_event.wait()
    assert lost == [client]
    assert not client.is_connected
    with pytest.raises(BleakError):
        await client.read_gatt_char(RW_CHAR)
    await client.disconnect()  # already gone: a quiet no-op
    assert len(lost) == 1

    # reconnect the way Home Assistant integrations do; the sensor advertises again
    calls: list[BleakClient] = []
    again = await establish_connection(
        BleakClient,
        device,
        NAME,
        disconnected_callback=calls.append,
        max_attempts=2,
        backend=radio.client_backend,
    )
    try:
        assert again.is_connected
        assert again.mtu_size == 247
        assert await again.read_gatt_char(RW_CHAR) == b"\x01\x02"
    finally:
        await again.disconnect()  # solicited: the callback fires too, like BlueZ
    assert calls == [again]
    assert not again.is_connected
    await again.disconnect()
    assert calls == [again]
    async with asyncio.timeout(5):
        await peripheral.disconnected.wait()


async def test_reconnect_same_client_object(radio: VirtualRadio, peripheral: Peripheral) -> None:
    device = await find_sensor(radio)
    client = BleakClient(device, backend=radio.client_backend, timeout=5)
    for _ in range(2):
        await client.connect()
        assert await client.read_gatt_char(RW_CHAR) == b"\x01\x02"
        await client.disconnect()
        assert not client.is_connected


async def test_connect_by_address_string(radio: VirtualRadio, peripheral: Peripheral) -> None:
    address = str(peripheral.device.random_address.to_string(False))
    # never scanned for: the client looks for the address first, like bleak's backends
    async with BleakClient(address, backend=radio.client_backend, timeout=5) as client:
        assert await client.read_gatt_char(RW_CHAR) == b"\x01\x02"
        assert client.name == address.replace(":", "-")


async def test_connect_timeout_leaves_the_radio_usable(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    ghost = BLEDevice("C0:FF:EE:00:00:01", "ghost", hci.Address("C0:FF:EE:00:00:01"))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await BleakClient(ghost, backend=radio.client_backend, timeout=0.3).connect()
    assert time.monotonic() - started < 2.0
    with pytest.raises(TimeoutError):  # unknown address string: never seen advertising
        await BleakClient("C0:FF:EE:00:00:02", backend=radio.client_backend, timeout=0.3).connect()
    # the cancelled attempt is gone from the controller: a real connect still works
    device = await find_sensor(radio)
    async with BleakClient(device, backend=radio.client_backend, timeout=5) as client:
        assert client.is_connected


async def test_closing_the_radio_aborts_a_pending_connect(radio: VirtualRadio) -> None:
    ghost = BLEDevice("C0:FF:EE:00:00:03", "ghost", hci.Address("C0:FF:EE:00:00:03"))
    connecting = asyncio.ensure_future(
        BleakClient(ghost, backend=radio.client_backend, timeout=30).connect()
    )
    await radio.ensure_open()
    for _ in range(500):  # until the attempt is pending in the controller
        if radio.device.is_le_connecting:
            break
        await asyncio.sleep(0.001)
    assert radio.device.is_le_connecting
    await radio.close()
    async with asyncio.timeout(2):
        with pytest.raises(BleakBluetoothNotAvailableError):
            await connecting


async def test_disconnect_when_the_peer_vanished_silently(
    link: LocalLink, radio: VirtualRadio, peripheral: Peripheral
) -> None:
    device = await find_sensor(radio)
    lost = asyncio.Event()
    client = BleakClient(
        device,
        disconnected_callback=lambda _c: lost.set(),
        backend=radio.client_backend,
        timeout=5,
    )
    await client.connect()
    # the sensor's radio disappears without a word (no LL_TERMINATE_IND)
    for controller in list(link.controllers):
        if controller.random_address == peripheral.device.random_address:
            link.remove_controller(controller)
    started = time.monotonic()
    await client.disconnect()
    assert time.monotonic() - started < 1.0
    assert lost.is_set()
    assert not client.is_connected


async def test_peripheral_powered_off_fires_callback(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    device = await find_sensor(radio)
    lost = asyncio.Event()
    client = BleakClient(
        device,
        disconnected_callback=lambda _c: lost.set(),
        backend=radio.client_backend,
        timeout=5,
    )
    await client.connect()
    await remove_peripheral_device(peripheral.device)  # battery died: supervision timeout
    async with asyncio.timeout(5):
        await lost.wait()
    assert not client.is_connected
    await client.disconnect()


# =========================================================================================
# Radios: isolation, selection, lifecycle
# =========================================================================================
async def test_two_radios_do_not_interfere() -> None:
    link_a, link_b = LocalLink(), LocalLink()
    sensor_a, sensor_b = Peripheral(link_a, "TiltOne"), Peripheral(link_b, "TiltTwo")
    await sensor_a.start()
    await sensor_b.start()
    radio_a, radio_b = VirtualRadio(link=link_a), VirtualRadio(link=link_b)
    try:
        assert radio_a.scanner_backend is not radio_b.scanner_backend
        assert radio_a.client_backend is radio_a.client_backend
        found_a = await BleakScanner.discover(timeout=0.2, backend=radio_a.scanner_backend)
        found_b = await BleakScanner.discover(timeout=0.2, backend=radio_b.scanner_backend)
        assert [d.name for d in found_a] == ["TiltOne"]
        assert [d.name for d in found_b] == ["TiltTwo"]

        lost_a = asyncio.Event()
        client_a = BleakClient(
            found_a[0],
            disconnected_callback=lambda _c: lost_a.set(),
            backend=radio_a.client_backend,
            timeout=5,
        )
        client_b = BleakClient(found_b[0], backend=radio_b.client_backend, timeout=5)
        await asyncio.gather(client_a.connect(), client_b.connect())
        rx_a, rx_b = Collector(), Collector()
        await client_a.start_notify(NOTIFY_CHAR, rx_a)
        await client_b.start_notify(NOTIFY_CHAR, rx_b)
        await asyncio.gather(rx_a.wait_for(20), rx_b.wait_for(20))

        await radio_a.close()  # closing one radio disconnects its clients only
        assert lost_a.is_set()
        assert not client_a.is_connected
        count_b = len(rx_b.values)
        await rx_b.wait_for(count_b + 5)
        assert client_b.is_connected
        await client_b.disconnect()
        with pytest.raises(BleakBluetoothNotAvailableError):
            await BleakScanner.discover(timeout=0.1, backend=radio_a.scanner_backend)
    finally:
        await radio_a.close()
        await radio_b.close()
        await sensor_a.close()
        await sensor_b.close()
    assert not link_a.controllers
    assert not link_b.controllers


async def test_unbound_backends_use_the_current_radio(
    radio: VirtualRadio, peripheral: Peripheral
) -> None:
    with radio.use():
        device = await BleakScanner.find_device_by_name(NAME, timeout=5, backend=BumbleScanner)
        assert device is not None
        async with BleakClient(device, backend=BumbleClient, timeout=5) as client:
            assert await client.read_gatt_char(RW_CHAR) == b"\x01\x02"


async def test_default_radio_needs_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RADIO_ENV_VAR, raising=False)
    with pytest.raises(BleakBluetoothNotAvailableError, match=RADIO_ENV_VAR):
        await BleakScanner.discover(timeout=0.1, backend=BumbleScanner)


async def test_radio_lifecycle(link: LocalLink) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        VirtualRadio()
    radio = VirtualRadio(link=link, name="central")
    assert not radio.is_open
    await radio.open()
    await radio.open()  # idempotent
    assert radio.is_open
    assert len(link.controllers) == 1
    await radio.close()
    await radio.close()  # idempotent
    assert radio.is_closed
    assert not link.controllers
    with pytest.raises(BleakBluetoothNotAvailableError):
        await radio.open()


async def test_unreachable_transport_is_bluetooth_not_available() -> None:
    async with serve_link() as served:
        port = served.port
    radio = VirtualRadio(transport=f"tcp-client:127.0.0.1:{port}", open_timeout=2)
    with pytest.raises(BleakBluetoothNotAvailableError):
        await radio.open()
    await radio.close()


# =========================================================================================
# Across processes: a served link on loopback TCP
# =========================================================================================
async def test_serve_link_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        async with serve_link(host="0.0.0.0"):
            pass
    async with serve_link() as served:
        assert served.host == "127.0.0.1"
        assert served.port > 0  # port 0 asked for an ephemeral one; this is the real one
        assert served.transport_spec == f"tcp-client:127.0.0.1:{served.port}"
        assert served.env == {RADIO_ENV_VAR: served.transport_spec}


async def test_default_radio_from_env_over_served_link(monkeypatch: pytest.MonkeyPatch) -> None:
    async with serve_link() as served:
        sensor = Peripheral(served.link)
        await sensor.start()
        monkeypatch.setenv(RADIO_ENV_VAR, served.transport_spec)
        try:
            device = await BleakScanner.find_device_by_filter(
                lambda _d, _ad: True, timeout=5, service_uuids=[SERVICE], backend=BumbleScanner
            )
            assert device is not None
            assert served.client_count == 1
            async with BleakClient(device, backend=BumbleClient, timeout=5) as client:
                assert client.mtu_size == 247
                await client.write_gatt_char(RW_CHAR, b"\x05", response=True)
                assert await client.read_gatt_char(RW_CHAR) == b"\x05"
        finally:
            await close_default_radio()
            await sensor.close()
        async with asyncio.timeout(5):
            await served.wait_for_clients(0)


async def test_served_link_going_away_is_a_lost_radio() -> None:
    lost = asyncio.Event()
    async with serve_link() as served:
        sensor = Peripheral(served.link)
        await sensor.start()
        radio = VirtualRadio(transport=served.transport_spec)
        device = await find_sensor(radio)
        client = BleakClient(
            device,
            disconnected_callback=lambda _c: lost.set(),
            backend=radio.client_backend,
            timeout=5,
        )
        await client.connect()
    try:
        # the served side closed the TCP connection: the link is gone with it
        async with asyncio.timeout(5):
            await lost.wait()
        assert not client.is_connected
        await client.disconnect()
        with pytest.raises(BleakBluetoothNotAvailableError):
            await BleakScanner.discover(timeout=0.1, backend=radio.scanner_backend)
        async with asyncio.timeout(5):
            await sensor.disconnected.wait()  # the sensor saw a connection timeout
    finally:
        await radio.close()
        await sensor.close()


async def test_cross_process_client_receives_notifications() -> None:
    async with serve_link(port=0) as served:
        sensor = Peripheral(served.link)
        await sensor.start()
        env = {**os.environ, **served.env}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CLIENT_SCRIPT),
            SERVICE,
            NOTIFY_CHAR,
            "50",
            env=env,
            cwd=str(REPO_ROOT),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(30):
                stdout, stderr = await process.communicate()
            assert process.returncode == 0, stderr.decode()
            result = json.loads(stdout.decode().strip().splitlines()[-1])
            assert result.get("error") is None, result
            assert result["name"] == NAME
            assert result["address"] == str(sensor.device.random_address.to_string(False))
            assert result["mtu"] == 247
            received = result["received"]
            assert len(received) >= 50
            assert received == list(range(received[0], received[0] + len(received)))
            # the client disconnected before leaving; its controller is off the link
            async with asyncio.timeout(5):
                await sensor.disconnected.wait()
                await served.wait_for_clients(0)
            assert len(served.link.controllers) == 1  # the sensor's own
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            await sensor.close()
