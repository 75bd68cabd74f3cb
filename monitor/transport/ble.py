"""The BLE transport: find a sensor, configure it, stream, and keep the link alive.

The only module of ``monitor`` that imports bleak. It knows no wire protocol: the protocol
module (:mod:`monitor.sensors`) that recognises the advertisement says how to configure and
start the device, through the small GATT port (:class:`~monitor.sensors.base.GattLink`) this
module implements on a bleak client; the raw notifications go on to the stream undecoded.
It speaks to any bleak backend: the platform's (BlueZ, CoreBluetooth, WinRT) for real hardware,
or firmware_sim's virtual radio for the simulated sensors, so the code under test is the code
that talks to a real belt clip.

Notifications are bridged from bleak's callbacks into an async iterator through a bounded queue.
When the queue is full (the consumer stalled for minutes) new packets are dropped and counted in
``overflowed``; the stream assembler then sees the hole in the sequence and reports it as a gap.
Reconnection with backoff and the no-data watchdog live here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError
from bleak_retry_connector import establish_connection

from monitor.errors import (
    BluetoothUnavailableError,
    DecodeError,
    SensorError,
    SensorNotFoundError,
)
from monitor.sensors import PROTOCOLS, SensorProtocol, recognise
from monitor.sensors import protocol as protocol_named
from monitor.sensors.base import (
    BATTERY_LEVEL_UUID,
    DEVICE_INFO_UUIDS,
    StreamFormat,
    StreamSettings,
    decode_battery_level,
)
from monitor.transport.items import (
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)

if TYPE_CHECKING:
    from firmware_sim.radio import VirtualRadio

log = logging.getLogger(__name__)

RADIO_ENV_VAR = "TILTMON_RADIO"

QUEUE_PACKETS = 20_000  # about 30 minutes of 200 Hz data in 19-sample packets
_COMMAND_TIMEOUT_S = 5.0


__all__ = [
    "RADIO_ENV_VAR",
    "BleTransport",
    "FoundSensor",
    "ReconnectPolicy",
    "StreamSettings",
    "open_virtual_radio",
    "scan",
]


@dataclass(frozen=True, slots=True)
class FoundSensor:
    name: str
    address: str
    rssi: int
    protocol: str = "tiltmon"


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0
    scan_timeout_s: float = 5.0
    watchdog_s: float = 3.0  # link up, streaming, and nothing for this long: reconnect
    max_attempts: int | None = None  # None: keep trying until closed


async def scan(
    seconds: float = 5.0,
    *,
    backend: type[BaseBleakScanner] | None = None,
    protocols: Sequence[SensorProtocol] | None = None,
) -> list[FoundSensor]:
    """List the sensors in range that a protocol module recognises, strongest first."""
    among = list(protocols) if protocols is not None else list(PROTOCOLS.values())
    try:
        found = await _discover(seconds, backend, among)
    except (BleakError, OSError) as exc:
        if _bluetooth_unavailable(exc):
            raise BluetoothUnavailableError(_NO_BLUETOOTH.format(exc)) from exc
        raise SensorError(f"scanning failed: {exc}") from exc
    sensors = []
    for device, adv in found.values():
        name = adv.local_name or device.name or ""
        known = recognise(name, adv.service_uuids, among)
        if known is not None:
            sensors.append(FoundSensor(name, device.address, adv.rssi, known.name))
    return sorted(sensors, key=lambda s: -s.rssi)


async def _discover(
    seconds: float, backend: type[BaseBleakScanner] | None, among: Sequence[SensorProtocol]
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    return await BleakScanner.discover(
        timeout=seconds,
        return_adv=True,
        **_scan_args(backend, among),
    )


async def open_virtual_radio(spec: str) -> VirtualRadio:
    """firmware_sim's virtual radio behind a bumble transport spec, powered on."""
    from firmware_sim.radio import VirtualRadio

    radio = VirtualRadio(transport=spec)
    try:
        await radio.open()
    except BleakError as exc:
        raise BluetoothUnavailableError(
            f"the virtual radio {spec} does not answer ({exc.args[0] if exc.args else exc});"
            " is `tiltmon sim` running?"
        ) from exc
    return radio


_NO_BLUETOOTH = (
    "Bluetooth is not available on this computer ({}). Check that an adapter is present and"
    " switched on (on Linux: the bluetooth service and D-Bus are running), or try the"
    " simulated sensor: tiltmon --sim"
)


def _link_trouble(exc: BaseException) -> bool:
    """True for anything a failing link can raise: any error, or a CancelledError that nobody
    sent to the running task.

    On link loss the BLE stack cancels the GATT requests still pending, and their
    CancelledError can surface in whoever awaited them. It is link trouble like any other; a
    cancellation of the task itself (Ctrl-C, a deadline, closing) shows in ``cancelling()``
    and must go on up.
    """
    if not isinstance(exc, asyncio.CancelledError):
        return isinstance(exc, Exception)
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


def _bluetooth_unavailable(exc: BaseException) -> bool:
    """No adapter or no Bluetooth service, as opposed to a sensor that is out of range.

    BlueZ unreachable shows as an OSError from its D-Bus socket; timeouts are not this.
    """
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, TimeoutError)


def _scan_args(
    backend: type[BaseBleakScanner] | None, among: Sequence[SensorProtocol]
) -> BleakScanner.ExtraArgs:
    """Let the stack filter by service when every candidate advertises one; bleak picks the
    platform's backend unless given one."""
    args: BleakScanner.ExtraArgs = {}
    if all(not p.name_prefixes for p in among):
        # Some devices (WitMotion) are known by name only: then the matcher filters.
        args["service_uuids"] = [u for p in among for u in p.service_uuids]
    if backend is not None:
        args["backend"] = backend
    return args


def _matcher(
    target: str | None, among: Sequence[SensorProtocol], found: dict[str, SensorProtocol]
) -> Callable[[BLEDevice, AdvertisementData], bool]:
    """A scan filter for an address, a name, or (None) any sensor a protocol module knows;
    the protocol that recognised a device goes into ``found`` under its address."""

    def matches(device: BLEDevice, adv: AdvertisementData) -> bool:
        name = adv.local_name or device.name or ""
        known = recognise(name, adv.service_uuids, among)
        if known is None:
            return False
        if target is not None and target.lower() not in (device.address.lower(), name.lower()):
            return False
        found[device.address] = known
        return True

    return matches


class BleTransport:
    """An async iterator of :data:`TransportItem` from one sensor, reconnecting as needed."""

    def __init__(
        self,
        target: str | None = None,
        *,
        protocols: Sequence[str] | None = None,
        settings: StreamSettings = StreamSettings(),
        policy: ReconnectPolicy = ReconnectPolicy(),
        scanner_backend: type[BaseBleakScanner] | None = None,
        client_backend: type[BaseBleakClient] | None = None,
        radio: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        # The protocols to look for (default: every one tiltmon speaks).
        self.protocols = [protocol_named(name) for name in protocols or PROTOCOLS]
        self.protocol: SensorProtocol | None = None  # the one the sensor found speaks
        self._recognised: dict[str, SensorProtocol] = {}
        self.settings = settings
        self.policy = policy
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self._clock = clock
        # A bumble transport spec: reach the sensor through firmware_sim's virtual radio.
        self._radio_spec = radio or os.environ.get(RADIO_ENV_VAR) or None
        self._radio: VirtualRadio | None = None
        self._queue: asyncio.Queue[TransportItem | _LinkDown] = asyncio.Queue(QUEUE_PACKETS)
        self._client: BleakClient | None = None
        self._gatt: _BleakGatt | None = None
        self._closing = False
        self._ever_streamed = False  # after the first stream, any error is worth a retry
        self.overflowed = 0
        self.device_info: DeviceInfo | None = None

    async def __aenter__(self) -> Self:
        if self._radio_spec and self._client_backend is None:
            self._radio = await open_virtual_radio(self._radio_spec)
            self._scanner_backend = self._radio.scanner_backend
            self._client_backend = self._radio.client_backend
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()
        if self._radio is not None:
            await self._radio.close()
            self._radio = None

    def __aiter__(self) -> AsyncIterator[TransportItem]:
        return self._run()

    async def _run(self) -> AsyncIterator[TransportItem]:
        delay = self.policy.first_delay_s
        attempts = 0
        try:
            while not self._closing:
                try:
                    device = await self._find()
                    client = await self._connect(device)
                except (asyncio.CancelledError, Exception) as exc:
                    # Any failure of the BLE stack is a reason to retry; only a cancellation of
                    # this task ends the loop (see _link_trouble).
                    if not _link_trouble(exc):
                        raise
                    if not self._ever_streamed and _bluetooth_unavailable(exc):
                        raise BluetoothUnavailableError(_NO_BLUETOOTH.format(exc)) from exc
                    attempts += 1
                    if (
                        self.policy.max_attempts is not None
                        and attempts >= self.policy.max_attempts
                    ):
                        raise SensorNotFoundError(
                            f"could not reach a sensor after {attempts} attempts: {exc}"
                        ) from exc
                    yield LinkEvent(
                        self._clock(),
                        LinkEventKind.RECONNECTING,
                        f"{exc}; retrying in {delay:.1f} s",
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.policy.max_delay_s)
                    continue
                yield LinkEvent(self._clock(), LinkEventKind.CONNECTED, client.address)
                try:
                    async for item in self._session(client):
                        yield item
                        if isinstance(item, LinkEvent) and item.kind is LinkEventKind.CONFIGURED:
                            self._ever_streamed = True
                            delay, attempts = self.policy.first_delay_s, 0
                except (asyncio.CancelledError, Exception) as exc:
                    if not _link_trouble(exc):
                        raise
                    expected = (BleakError, SensorError, TimeoutError, DecodeError)
                    # Other types: the stack's own errors, or a bug here: keep the traceback.
                    log.warning("link trouble: %r", exc, exc_info=not isinstance(exc, expected))
                    await self._drop(client)
                    yield LinkEvent(self._clock(), LinkEventKind.DISCONNECTED, str(exc))
                if not self._closing:
                    yield LinkEvent(self._clock(), LinkEventKind.RECONNECTING, f"in {delay:.1f} s")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.policy.max_delay_s)
        finally:
            await self._shutdown()

    async def _find(self) -> BLEDevice:
        device = await BleakScanner.find_device_by_filter(
            _matcher(self.target, self.protocols, self._recognised),
            timeout=self.policy.scan_timeout_s,
            **_scan_args(self._scanner_backend, self.protocols),
        )
        if device is None:
            what = f"sensor {self.target!r}" if self.target else "sensor tiltmon knows"
            raise SensorNotFoundError(f"no {what} found in {self.policy.scan_timeout_s:.0f} s")
        self.protocol = self._recognised[device.address]
        return device

    async def _connect(self, device: BLEDevice) -> BleakClient:
        self._drain()

        def on_disconnect(_client: BleakClient) -> None:
            self._put(_LinkDown(self._clock()))

        client = await establish_connection(
            BleakClient,
            device,
            device.name or device.address,
            disconnected_callback=on_disconnect,
            max_attempts=2,
            backend=self._client_backend,
        )
        self._client = client
        return client

    async def _session(self, client: BleakClient) -> AsyncIterator[TransportItem]:
        """One connection: configure, stream, and end when the link drops or stalls."""
        if self.device_info is None:
            self.device_info = await self._read_device_info(client)
        yield LinkEvent(self._clock(), LinkEventKind.DEVICE_INFO, device_info=self.device_info)
        battery = await self._read_battery(client)
        if battery is not None:
            yield LinkEvent(self._clock(), LinkEventKind.BATTERY, battery_percent=battery)
        config = await self._configure(client)
        yield LinkEvent(self._clock(), LinkEventKind.CONFIGURED, config.note, config=config)
        watchdog = max(self.policy.watchdog_s, 4 * config.samples_per_packet / config.rate_hz)
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
            # arrives as the queue hands over an item, and the stream would never end.
            try:
                async with asyncio.timeout(watchdog):
                    item = await self._queue.get()
            except TimeoutError:
                yield LinkEvent(
                    self._clock(), LinkEventKind.STALLED, f"no data for {watchdog:.1f} s"
                )
                await self._drop(client)
                yield LinkEvent(self._clock(), LinkEventKind.DISCONNECTED, "stalled stream")
                return
            if isinstance(item, _LinkDown):
                # Release the client even though the link is already gone: on BlueZ a client
                # holds a D-Bus connection until disconnect(), and bluetoothd re-enables that
                # connection's notifications on the next connect, so each reconnect would
                # otherwise deliver every packet once more.
                await self._drop(client)
                yield LinkEvent(item.at, LinkEventKind.DISCONNECTED, "link lost")
                return
            yield item

    async def _configure(self, client: BleakClient) -> StreamFormat:
        """The protocol module configures and starts the device; then battery news, if any."""
        assert self.protocol is not None
        self._gatt = _BleakGatt(client, self._on_data)
        config = await self.protocol.start(self._gatt, self.settings)
        with contextlib.suppress(BleakError):
            await client.start_notify(BATTERY_LEVEL_UUID, self._on_battery)
        return config

    async def _read_device_info(self, client: BleakClient) -> DeviceInfo:
        fields: dict[str, str] = {}
        for name, uuid in DEVICE_INFO_UUIDS.items():
            try:
                fields[name] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace")
            except BleakError:
                fields[name] = ""  # Device Information is optional on third-party sensors
        return DeviceInfo(name=client.name, address=client.address, **fields)

    async def _read_battery(self, client: BleakClient) -> int | None:
        try:
            return decode_battery_level(await client.read_gatt_char(BATTERY_LEVEL_UUID))
        except (BleakError, DecodeError):
            return None  # not every sensor has the Battery service

    # --- bleak callbacks: run on the event loop, must not block -------------------------------

    def _on_data(self, _sender: object, data: bytearray) -> None:
        self._put(Notification(self._clock(), bytes(data)))

    def _on_battery(self, _sender: object, data: bytearray) -> None:
        try:
            level = decode_battery_level(data)
        except DecodeError as exc:
            log.warning("ignoring malformed battery level: %s", exc)
            return
        self._put(LinkEvent(self._clock(), LinkEventKind.BATTERY, battery_percent=level))

    def _put(self, item: TransportItem | _LinkDown) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed += 1

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    # --- endings ---------------------------------------------------------------------------

    async def _drop(self, client: BleakClient) -> None:
        self._client = None
        with contextlib.suppress(BleakError, TimeoutError, OSError):
            await client.disconnect()

    async def _shutdown(self) -> None:
        """Stop streaming and disconnect, so the sensor goes back to idle and saves power."""
        self._closing = True
        client, self._client = self._client, None
        gatt, self._gatt = self._gatt, None
        if client is None or not client.is_connected:
            return
        with contextlib.suppress(BleakError, SensorError, TimeoutError, OSError):
            async with asyncio.timeout(3.0):
                if gatt is not None and self.protocol is not None:
                    await self.protocol.stop(gatt)
                    await gatt.unsubscribe_data()
        try:
            await client.disconnect()
        except (asyncio.CancelledError, Exception) as exc:  # the link is gone either way
            if not _link_trouble(exc):
                raise


@dataclass(frozen=True, slots=True)
class _LinkDown:
    at: float


class _BleakGatt:
    """The GATT port (:class:`~monitor.sensors.base.GattLink`) on one connected bleak client.

    One subscription per characteristic, whatever it carries: a sensor may answer commands on
    the characteristic its data arrive on (Movesense), so each notification goes to the stream
    if it is the data characteristic, and to the request waiting on it, if any.
    """

    def __init__(self, client: BleakClient, on_data: Callable[[object, bytearray], None]) -> None:
        self.client = client
        self._on_data = on_data
        self._data_uuid: str | None = None
        self._subscribed: set[str] = set()
        self._waiting: dict[str, asyncio.Queue[bytes]] = {}

    async def read(self, uuid: str) -> bytes:
        return bytes(await self.client.read_gatt_char(uuid))

    async def write(self, uuid: str, data: bytes, *, response: bool = True) -> None:
        await self.client.write_gatt_char(uuid, data, response=response)

    async def request(
        self, uuid: str, data: bytes, *, answer_uuid: str, answers: Callable[[bytes], bool]
    ) -> bytes:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._waiting[answer_uuid] = queue
        try:
            await self._subscribe(answer_uuid)
            await self.client.write_gatt_char(uuid, data, response=True)
            async with asyncio.timeout(_COMMAND_TIMEOUT_S):
                while True:
                    answer = await queue.get()
                    if answers(answer):
                        return answer
        except TimeoutError as exc:
            raise SensorError(
                f"sensor did not answer {data.hex(' ')} within {_COMMAND_TIMEOUT_S:.0f} s"
            ) from exc
        finally:
            self._waiting.pop(answer_uuid, None)

    async def subscribe_data(self, uuid: str) -> None:
        self._data_uuid = uuid
        await self._subscribe(uuid)

    async def unsubscribe_data(self) -> None:
        if self._data_uuid is not None:
            self._subscribed.discard(self._data_uuid)
            await self.client.stop_notify(self._data_uuid)

    async def _subscribe(self, uuid: str) -> None:
        if uuid not in self._subscribed:
            self._subscribed.add(uuid)
            await self.client.start_notify(
                uuid,
                lambda sender, value: self._dispatch(uuid, sender, value),
                # BlueZ: StartNotify hands values over as D-Bus property changes, which
                # bluetoothd coalesces when busy (a burst reaches us as its last value);
                # AcquireNotify passes every notification through a socket. bleak falls back
                # to StartNotify for characteristics that only indicate.
                bluez={"use_start_notify": False},
            )

    def _dispatch(self, uuid: str, sender: object, value: bytearray) -> None:
        if uuid == self._data_uuid:
            self._on_data(sender, value)
        waiting = self._waiting.get(uuid)
        if waiting is not None:
            waiting.put_nowait(bytes(value))
