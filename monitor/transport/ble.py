"""The BLE transport: find a tiltmon sensor, configure it, stream, and keep the link alive.

The only module of ``monitor`` that imports bleak. It speaks to any bleak backend: the platform's
(BlueZ, CoreBluetooth, WinRT) for real hardware, or firmware_sim's virtual radio for the simulated
sensor, so the code under test is the code that talks to a real belt clip.

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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError
from bleak_retry_connector import establish_connection

from monitor import codec
from monitor.errors import (
    BluetoothUnavailableError,
    DecodeError,
    SensorError,
    SensorNotFoundError,
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


@dataclass(frozen=True, slots=True)
class FoundSensor:
    name: str
    address: str
    rssi: int


@dataclass(frozen=True, slots=True)
class StreamSettings:
    rate_hz: int = 100
    acc_range_g: int = 8
    gyr_range_dps: int = 500


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0
    scan_timeout_s: float = 5.0
    watchdog_s: float = 3.0  # link up, streaming, and nothing for this long: reconnect
    max_attempts: int | None = None  # None: keep trying until closed


async def scan(
    seconds: float = 5.0, *, backend: type[BaseBleakScanner] | None = None
) -> list[FoundSensor]:
    """List the tiltmon sensors in range, strongest first."""
    try:
        found = await _discover(seconds, backend)
    except (BleakError, OSError) as exc:
        if _bluetooth_unavailable(exc):
            raise BluetoothUnavailableError(_NO_BLUETOOTH.format(exc)) from exc
        raise SensorError(f"scanning failed: {exc}") from exc
    sensors = [
        FoundSensor(adv.local_name or device.name or "", device.address, adv.rssi)
        for device, adv in found.values()
        if codec.IMU_SERVICE_UUID in [u.lower() for u in adv.service_uuids]
    ]
    return sorted(sensors, key=lambda s: -s.rssi)


async def _discover(
    seconds: float, backend: type[BaseBleakScanner] | None
) -> dict[str, tuple[BLEDevice, AdvertisementData]]:
    return await BleakScanner.discover(
        timeout=seconds,
        return_adv=True,
        **_scan_args(backend),
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


def _scan_args(backend: type[BaseBleakScanner] | None) -> BleakScanner.ExtraArgs:
    """Scan for our service; bleak picks the platform's backend unless given one."""
    args: BleakScanner.ExtraArgs = {"service_uuids": [codec.IMU_SERVICE_UUID]}
    if backend is not None:
        args["backend"] = backend
    return args


def _matcher(target: str | None) -> Callable[[BLEDevice, AdvertisementData], bool]:
    """A scan filter for an address, a name, or (None) any tiltmon sensor."""

    def matches(device: BLEDevice, adv: AdvertisementData) -> bool:
        if codec.IMU_SERVICE_UUID not in [u.lower() for u in adv.service_uuids]:
            return False
        if target is None:
            return True
        return target.lower() in (device.address.lower(), (adv.local_name or "").lower())

    return matches


class BleTransport:
    """An async iterator of :data:`TransportItem` from one sensor, reconnecting as needed."""

    def __init__(
        self,
        target: str | None = None,
        *,
        settings: StreamSettings = StreamSettings(),
        policy: ReconnectPolicy = ReconnectPolicy(),
        scanner_backend: type[BaseBleakScanner] | None = None,
        client_backend: type[BaseBleakClient] | None = None,
        radio: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.settings = settings
        self.policy = policy
        self._scanner_backend = scanner_backend
        self._client_backend = client_backend
        self._clock = clock
        # A bumble transport spec: reach the sensor through firmware_sim's virtual radio.
        self._radio_spec = radio or os.environ.get(RADIO_ENV_VAR) or None
        self._radio: VirtualRadio | None = None
        self._queue: asyncio.Queue[TransportItem | _LinkDown] = asyncio.Queue(QUEUE_PACKETS)
        self._responses: asyncio.Queue[codec.ControlResponse] = asyncio.Queue()
        self._client: BleakClient | None = None
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
            _matcher(self.target),
            timeout=self.policy.scan_timeout_s,
            **_scan_args(self._scanner_backend),
        )
        if device is None:
            what = f"sensor {self.target!r}" if self.target else "tiltmon sensor"
            raise SensorNotFoundError(f"no {what} found in {self.policy.scan_timeout_s:.0f} s")
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
        yield LinkEvent(self._clock(), LinkEventKind.CONFIGURED, config=config)
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
                self._client = None
                yield LinkEvent(item.at, LinkEventKind.DISCONNECTED, "link lost")
                return
            yield item

    async def _configure(self, client: BleakClient) -> codec.SensorConfig:
        await client.start_notify(codec.CONTROL_POINT_UUID, self._on_control_response)
        config = codec.decode_config(await client.read_gatt_char(codec.CONFIG_UUID))
        if config.streaming:
            await self._command(client, codec.encode_stop())
        wanted = self.settings
        if config.rate_hz != wanted.rate_hz:
            await self._command(client, codec.encode_set_rate(wanted.rate_hz))
        if (config.acc_range_g, config.gyr_range_dps) != (wanted.acc_range_g, wanted.gyr_range_dps):
            await self._command(
                client, codec.encode_set_ranges(wanted.acc_range_g, wanted.gyr_range_dps)
            )
        await client.start_notify(codec.IMU_DATA_UUID, self._on_imu_data)
        await self._command(client, codec.encode_start())
        # Samples per packet is fixed when streaming starts (it follows the MTU): read it now.
        config = codec.decode_config(await client.read_gatt_char(codec.CONFIG_UUID))
        if not config.streaming:
            raise SensorError("sensor accepted start but does not report streaming")
        with contextlib.suppress(BleakError):
            await client.start_notify(codec.BATTERY_LEVEL_UUID, self._on_battery)
        return config

    async def _command(self, client: BleakClient, request: bytes) -> None:
        while not self._responses.empty():
            self._responses.get_nowait()
        await client.write_gatt_char(codec.CONTROL_POINT_UUID, request, response=True)
        async with asyncio.timeout(_COMMAND_TIMEOUT_S):
            while True:
                response = await self._responses.get()
                if response.opcode == request[0]:
                    break
        if response.status is not codec.Status.SUCCESS:
            op = codec.Opcode(request[0]).name
            raise SensorError(f"sensor refused {op}: {response.status.name}")

    async def _read_device_info(self, client: BleakClient) -> DeviceInfo:
        fields: dict[str, str] = {}
        for name, uuid in codec.DEVICE_INFO_UUIDS.items():
            try:
                fields[name] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace")
            except BleakError:
                fields[name] = ""  # Device Information is optional on third-party sensors
        return DeviceInfo(name=client.name, address=client.address, **fields)

    async def _read_battery(self, client: BleakClient) -> int | None:
        try:
            return codec.decode_battery_level(await client.read_gatt_char(codec.BATTERY_LEVEL_UUID))
        except (BleakError, DecodeError):
            return None

    # --- bleak callbacks: run on the event loop, must not block -------------------------------

    def _on_imu_data(self, _sender: object, data: bytearray) -> None:
        self._put(Notification(self._clock(), bytes(data)))

    def _on_control_response(self, _sender: object, data: bytearray) -> None:
        try:
            self._responses.put_nowait(codec.decode_control_response(data))
        except DecodeError as exc:
            log.warning("ignoring malformed control-point response: %s", exc)

    def _on_battery(self, _sender: object, data: bytearray) -> None:
        try:
            level = codec.decode_battery_level(data)
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
        if client is None or not client.is_connected:
            return
        with contextlib.suppress(BleakError, SensorError, TimeoutError, OSError):
            async with asyncio.timeout(3.0):
                await self._command(client, codec.encode_stop())
                await client.stop_notify(codec.IMU_DATA_UUID)
        try:
            await client.disconnect()
        except (asyncio.CancelledError, Exception) as exc:  # the link is gone either way
            if not _link_trouble(exc):
                raise


@dataclass(frozen=True, slots=True)
class _LinkDown:
    at: float
