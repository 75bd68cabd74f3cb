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
import inspect
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakDBusError,
    BleakError,
    BleakGATTProtocolError,
)
from bleak_retry_connector import establish_connection

from calibration.profiles import device_key, profile_path
from monitor.errors import (
    BluetoothUnavailableError,
    ConfigError,
    DecodeError,
    NotPairedError,
    PasskeyError,
    SensorError,
    SensorNotFoundError,
)
from monitor.pairing import NOT_PAIRED_HINT, PairedSensors, virtual_radio_keys_file
from monitor.sensors import PROTOCOLS, SensorProtocol, recognise
from monitor.sensors import protocol as protocol_named
from monitor.sensors.base import (
    BATTERY_LEVEL_UUID,
    DEVICE_INFO_UUIDS,
    StreamFormat,
    StreamSettings,
    decode_battery_level,
)
from monitor.transport.choice import Candidate, Choice, choose, is_address
from monitor.transport.items import (
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
    TransportItem,
)

if TYPE_CHECKING:
    from firmware_sim.radio import VirtualRadio
    from monitor.sensors.tiltmon import LinkSecurity

log = logging.getLogger(__name__)

RADIO_ENV_VAR = "TILTMON_RADIO"

# ATT errors of a server that wants an encrypted link from a bonded host.
_INSUFFICIENT_AUTHENTICATION = 0x05
_INSUFFICIENT_ENCRYPTION = 0x0F
_SECURITY_ERRORS = frozenset({_INSUFFICIENT_AUTHENTICATION, _INSUFFICIENT_ENCRYPTION})
# BlueZ does not pass those codes on: it tries to raise the link's security itself (pairing, or
# encrypting with a bond it holds) and, when the sensor refuses, answers the D-Bus call with
# this error (create_gatt_dbus_error in its gatt-client.c), which bleak leaves unmapped.
_BLUEZ_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
_BLUEZ_NOT_PAIRED = "Not paired"

QUEUE_PACKETS = 20_000  # about 30 minutes of 200 Hz data in 19-sample packets
_COMMAND_TIMEOUT_S = 5.0
_BATTERY_TIMEOUT_S = 2.0  # the stream is waiting: a level is not worth more
BATTERY_POLL_S = 300.0  # a sensor without a Battery service is asked this often
NO_BATTERY_NOTE = "the sensor reports no battery level"


__all__ = [
    "RADIO_ENV_VAR",
    "BleTransport",
    "FoundSensor",
    "PairedWith",
    "PasskeySource",
    "ReconnectPolicy",
    "StreamSettings",
    "open_virtual_radio",
    "pair_sensor",
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
    # Listening this long before choosing among the sensors in range (sensors advertise every
    # 20 ms to 1 s); the chosen one is then reconnected to by address, without a choice.
    choice_scan_s: float = 2.0
    # The adapter itself (or the virtual radio's HCI transport) went away after streaming:
    # keep reopening it for this long, then give up with an error.
    adapter_gone_s: float = 60.0


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

    # Its bonds outlive the process, like the operating system's: `tiltmon pair --radio` then
    # `tiltmon stream --radio` reconnects encrypted.
    keys = virtual_radio_keys_file()
    try:
        radio = VirtualRadio(transport=spec, keystore=keys)
    except ValueError as exc:
        raise ConfigError(f"{exc}; delete it and pair again", path=str(keys)) from exc
    try:
        await radio.open()
    except BleakError as exc:
        raise BluetoothUnavailableError(
            f"the virtual radio {spec} does not answer ({_root_cause(exc)}); is `tiltmon sim`"
            " running?"
        ) from exc
    return radio


def _root_cause(exc: BaseException) -> str:
    """The first cause in a chain, as a user reads it: "connection refused", not a repr."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


_NO_BLUETOOTH = (
    "Bluetooth is not available on this computer ({}). Check that an adapter is present and"
    " switched on (on Linux: the bluetooth service and D-Bus are running), or try the"
    " simulated sensor: tiltmon --sim"
)


def has_calibration(address: str) -> bool:
    """Whether the sensor at ``address`` has a calibration profile (a damaged one counts: it
    is still the wearer's sensor)."""
    return profile_path(device_key(address=address)).exists()


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


def refused_for_security(exc: BaseException) -> bool:
    """Whether a GATT request failed because the sensor wants a bonded, encrypted link."""
    if isinstance(exc, BleakGATTProtocolError):
        return int(exc.code) in _SECURITY_ERRORS
    return (
        isinstance(exc, BleakDBusError)
        and exc.dbus_error == _BLUEZ_NOT_PERMITTED
        and exc.dbus_error_details == _BLUEZ_NOT_PAIRED
    )


def _bluez_path(device: BLEDevice | None, platform_stack: bool) -> str | None:
    """The device's D-Bus object when the platform's stack is BlueZ (Linux), else None."""
    if not platform_stack or device is None or sys.platform != "linux":
        return None
    details = device.details
    path = details.get("path") if isinstance(details, dict) else None
    return path if isinstance(path, str) else None


async def _pair_link(
    client: BleakClient, device: BLEDevice | None, platform_stack: bool, **typed: int
) -> None:
    """Pair over the connected ``client`` (or encrypt with the bond, where the stack does so
    on pairing); ``typed``: the passkey, for a backend that takes one. On BlueZ through
    tiltmon's agent: bleak brings none, and without one Linux refuses even Just Works
    (monitor.transport.bluez_pairing)."""
    path = _bluez_path(device, platform_stack)
    if path is None:
        await client.pair(**typed)
        return
    from monitor.transport.bluez_pairing import BluezError, bluez_pair

    try:
        await bluez_pair(path)
    except BluezError as exc:  # told like bleak's own BlueZ errors
        raise BleakDBusError(exc.name, [exc.details]) from exc


def _reason(exc: BaseException) -> str:
    """An error's message alone (bleak's adapter errors carry a reason code as a second arg)."""
    return str(exc.args[0]) if len(exc.args) > 1 and isinstance(exc.args[0], str) else str(exc)


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
        remembered: str | None = None,
        calibrated: Callable[[str], bool] = has_calibration,
        paired: PairedSensors | None = None,
        pair_first_use: bool = False,
        passkey: PasskeySource | None = None,
    ) -> None:
        self.target = target
        # Preferences when several sensors are in range (monitor.transport.choice).
        self.remembered = remembered
        self._calibrated = calibrated
        self.choice: Choice | None = None  # made at the first connection
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
        self._owns_radio = False  # opened here from the spec, so reopened here when lost
        self.adapter_losses = 0
        self.adapter_reopens = 0
        self._queue: asyncio.Queue[TransportItem | _LinkDown] = asyncio.Queue(QUEUE_PACKETS)
        self._client: BleakClient | None = None
        self._device: BLEDevice | None = None  # the one connected to last
        self._gatt: _BleakGatt | None = None
        self._closing = False
        self._ever_streamed = False  # after the first stream, any error is worth a retry
        self.overflowed = 0
        self.device_info: DeviceInfo | None = None
        self._chose: Choice | None = None  # a choice not yet told in a CONNECTED event
        # Private link (docs/protocol.md, version 2): the sensors this computer paired with are
        # the only ones of their protocol it connects to, and their link must be encrypted with
        # the bond; ``pair_first_use`` pairs a sensor that asks for it (tiltmon pair, sim:).
        self.paired = paired
        self.pair_first_use = pair_first_use
        self.passkey = passkey  # asked when a sensor that pairs on first use wants its passkey

    async def __aenter__(self) -> Self:
        if self._radio_spec and self._client_backend is None:
            self._radio = await open_virtual_radio(self._radio_spec)
            self._owns_radio = True
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
        self._closing = False  # iterable again after a stop (the dashboard's pairing step)
        delay = self.policy.first_delay_s
        attempts = 0
        adapter_lost_at: float | None = None  # monotonic time the adapter went away
        try:
            while not self._closing:
                try:
                    await self._reopen_radio()
                    device = await self._find()
                    if adapter_lost_at is not None:
                        yield self._adapter_back(adapter_lost_at)
                        adapter_lost_at = None
                    client = await self._connect(device)
                except (asyncio.CancelledError, Exception) as exc:
                    # Any failure of the BLE stack is a reason to retry; only a cancellation of
                    # this task ends the loop (see _link_trouble).
                    if not _link_trouble(exc):
                        raise
                    if _bluetooth_unavailable(exc):
                        if not self._ever_streamed:
                            raise BluetoothUnavailableError(_NO_BLUETOOTH.format(exc)) from exc
                        if adapter_lost_at is None:
                            adapter_lost_at = time.monotonic()
                            yield self._adapter_lost(exc)
                        gone = time.monotonic() - adapter_lost_at
                        if gone >= self.policy.adapter_gone_s:
                            raise BluetoothUnavailableError(
                                f"the Bluetooth adapter went away {gone:.0f} s ago and did not"
                                f" come back ({_reason(exc)})"
                            ) from exc
                        await self._close_lost_radio()
                        # Sleep no longer than the time left, so the give-up comes on time.
                        await asyncio.sleep(min(delay, self.policy.adapter_gone_s - gone))
                        delay = min(delay * 2, self.policy.max_delay_s)
                        continue
                    if adapter_lost_at is not None:
                        # It answers (the sensor may not yet): the adapter itself is back.
                        yield self._adapter_back(adapter_lost_at)
                        adapter_lost_at = None
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
                chose, self._chose = self._chose, None
                detail = chose.describe() if chose is not None else client.address
                yield LinkEvent(self._clock(), LinkEventKind.CONNECTED, detail)
                try:
                    async for item in self._session(client):
                        yield item
                        if isinstance(item, LinkEvent) and item.kind is LinkEventKind.CONFIGURED:
                            self._ever_streamed = True
                            delay, attempts = self.policy.first_delay_s, 0
                except (asyncio.CancelledError, Exception) as exc:
                    if not _link_trouble(exc) or isinstance(exc, NotPairedError):
                        raise  # a refusal is not link trouble: retrying would not help
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

    def _adapter_lost(self, exc: BaseException) -> LinkEvent:
        what = f"the virtual radio {self._radio_spec}" if self._radio_spec else "the adapter"
        log.warning(
            "the Bluetooth adapter went away (%s); reopening %s for up to %.0f s",
            _reason(exc),
            what,
            self.policy.adapter_gone_s,
        )
        self.adapter_losses += 1
        return LinkEvent(
            self._clock(), LinkEventKind.ADAPTER_LOST, f"{_reason(exc)}; reopening {what}"
        )

    def _adapter_back(self, lost_at: float) -> LinkEvent:
        gone = time.monotonic() - lost_at
        self.adapter_reopens += 1
        log.warning("the Bluetooth adapter is back after %.1f s", gone)
        return LinkEvent(self._clock(), LinkEventKind.ADAPTER_BACK, f"after {gone:.1f} s")

    async def _close_lost_radio(self) -> None:
        """A virtual radio whose HCI transport went away stays lost: close it to open anew.

        The platform's stack needs nothing of the kind: each scan asks it afresh.
        """
        if self._radio is not None and not self._radio.is_open:
            await self._radio.close()
            self._radio = None

    async def _reopen_radio(self) -> None:
        """Open the virtual radio again after it was lost (its errors are the adapter's)."""
        if self._radio_spec is None or self._radio is not None or not self._owns_radio:
            return
        from firmware_sim.radio import VirtualRadio

        radio = VirtualRadio(transport=self._radio_spec)
        await radio.open()
        self._radio = radio
        self._scanner_backend = radio.scanner_backend
        self._client_backend = radio.client_backend

    async def _find(self) -> BLEDevice:
        if self.choice is None and not (self.target and is_address(self.target)):
            return await self._choose()
        # Straight to the sensor asked for by address, or the one chosen before.
        target = self.choice.chosen.address if self.choice is not None else self.target
        matches = _matcher(target, self.protocols, self._recognised)

        def wanted(device: BLEDevice, adv: AdvertisementData) -> bool:
            if not matches(device, adv):
                return False
            return self._may_connect(device.address, self._recognised[device.address].name)

        device = await BleakScanner.find_device_by_filter(
            wanted,
            timeout=self.policy.scan_timeout_s,
            **_scan_args(self._scanner_backend, self.protocols),
        )
        if device is None:
            what = f"sensor {self.target!r}" if self.target else "sensor tiltmon knows"
            raise SensorNotFoundError(f"no {what} found in {self.policy.scan_timeout_s:.0f} s")
        self.protocol = self._recognised[device.address]
        return device

    async def _choose(self) -> BLEDevice:
        """Listen for every sensor in range and take the preferred one (see choice.choose)."""
        found = await _discover(self.policy.choice_scan_s, self._scanner_backend, self.protocols)
        devices: dict[str, tuple[BLEDevice, SensorProtocol]] = {}
        candidates = []
        for device, adv in found.values():
            name = adv.local_name or device.name or ""
            known = recognise(name, adv.service_uuids, self.protocols)
            if known is not None and self._may_connect(device.address, known.name):
                devices[device.address] = (device, known)
                candidates.append(Candidate(name, device.address, adv.rssi, known.name))
        choice = choose(
            candidates,
            target=self.target,
            remembered=self.remembered,
            calibrated=self._calibrated,
        )
        if choice is None:
            what = f"sensor {self.target!r}" if self.target else "sensor tiltmon knows"
            seconds = self.policy.choice_scan_s
            raise SensorNotFoundError(f"no {what} found in {seconds:.0f} s")
        log.info("chose %s", choice.describe())
        self.choice = self._chose = choice
        device, self.protocol = devices[choice.chosen.address]
        return device

    async def pair(self, passkey: PasskeySource | None = None) -> PairedWith:
        """Pair with the sensor this transport looks for (``tiltmon pair`` in-line, for the
        dashboard's pairing step), through the same radio; ``passkey`` is asked for the
        digits on the sensor's label if it wants them."""
        return await pair_sensor(
            self.target,
            seconds=self.policy.scan_timeout_s,
            paired=self.paired,
            scanner_backend=self._scanner_backend,
            client_backend=self._client_backend,
            passkey=passkey or self.passkey,
        )

    def _may_connect(self, address: str, protocol: str) -> bool:
        """Once this computer is paired with sensors of a protocol, only those: another device
        advertising the same name or service (replayed, spoofed) gets no connection."""
        if self.paired is None or self.pair_first_use:
            return True
        known = self.paired.addresses(protocol)
        return not known or address.upper() in known

    async def _secure(self, client: BleakClient, *, bonded: bool) -> None:
        """Encrypt the link with the bond (``bonded``), or pair; a refusal is final."""
        name = client.name or client.address
        typed: dict[str, int] = {}
        if not bonded:
            typed = await _typed_passkey(client, name, self.passkey)
        try:
            await _pair_link(client, self._device, self._client_backend is None, **typed)
        except BleakError as exc:
            if typed:
                raise PasskeyError(_passkey_refused(name, exc)) from exc
            if bonded:
                raise NotPairedError(
                    f"{name} refused this computer ({exc}): one side lost the bond (a reset,"
                    f" a wiped key store), or the sensor paired with other computers since;"
                    f" {NOT_PAIRED_HINT}"
                ) from exc
            raise NotPairedError(
                f"{name} is paired with another computer and refused to pair ({exc}):"
                f" {NOT_PAIRED_HINT}"
            ) from exc
        if self.paired is not None and self.protocol is not None:
            self.paired.add(client.address, name, self.protocol.name)

    async def _connect(self, device: BLEDevice) -> BleakClient:
        self._drain()
        self._device = device

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
        if self.paired is not None and client.address.upper() in self.paired:
            # A sensor we paired with proves it holds the bond before anything is trusted.
            await self._secure(client, bonded=True)
        if self.device_info is None:
            self.device_info = await self._read_device_info(client)
        yield LinkEvent(self._clock(), LinkEventKind.DEVICE_INFO, device_info=self.device_info)
        battery = await self._read_battery(client)
        if battery is not None:
            yield LinkEvent(self._clock(), LinkEventKind.BATTERY, battery_percent=battery)
        config = await self._configure(client)
        poll: asyncio.Task[None] | None = None
        if battery is None:
            # No Battery service: the protocol may have its own command (WitMotion's register).
            asked, battery = await self._ask_battery()
            if not asked:
                config = replace(config, note=_joined(config.note, NO_BATTERY_NOTE))
            else:
                poll = asyncio.get_running_loop().create_task(self._poll_battery())
        yield LinkEvent(self._clock(), LinkEventKind.CONFIGURED, config.note, config=config)
        if battery is not None and poll is not None:
            yield LinkEvent(self._clock(), LinkEventKind.BATTERY, battery_percent=battery)
        try:
            async for item in self._stream_items(client, config):
                yield item
        finally:
            if poll is not None:
                poll.cancel()

    async def _stream_items(
        self, client: BleakClient, config: StreamFormat
    ) -> AsyncIterator[TransportItem]:
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
        security = await self._link_security(client)
        name = client.name or client.address
        ours = self.paired is not None and client.address.upper() in self.paired
        try:
            config = await self.protocol.start(self._gatt, self.settings)
        except (BleakError, SensorError, TimeoutError) as exc:
            if not refused_for_security(exc) and not self._stack_refused(ours, security):
                raise
            if ours:
                # Encrypted with the bond this computer holds, and still refused.
                raise NotPairedError(
                    f"{name} refused this computer: it lost the bond (a reset) or paired with"
                    f" other computers since; {NOT_PAIRED_HINT}"
                ) from exc
            if not self.pair_first_use:
                raise NotPairedError(
                    f"{name} keeps its data for the computer it is paired with, and this one"
                    f" is not: {NOT_PAIRED_HINT}"
                ) from exc
            await self._secure(client, bonded=False)
            self._gatt = _BleakGatt(client, self._on_data)
            config = await self.protocol.start(self._gatt, self.settings)
        with contextlib.suppress(BleakError):
            await client.start_notify(BATTERY_LEVEL_UUID, self._on_battery)
        return config

    async def _link_security(self, client: BleakClient) -> LinkSecurity | None:
        """What a version-2 tiltmon sensor says of this link (readable on any link); None for
        other sensors, or when it cannot be read (the start then tells)."""
        from monitor.sensors.tiltmon import PROTOCOL, SECURITY_UUID, decode_security

        if self.protocol is None or self.protocol.name != PROTOCOL.name:
            return None
        try:
            return decode_security(await client.read_gatt_char(SECURITY_UUID))
        except (BleakError, DecodeError):
            return None

    def _stack_refused(self, ours: bool, security: LinkSecurity | None) -> bool:
        """Whether a start that failed as link trouble was the sensor refusing this computer.

        BlueZ answers the sensor's ATT 0x05/0x0F itself, by pairing (a host it has no bond
        with) or encrypting (one it has): refused, the kernel drops the link and the request
        fails like any lost link. A private-link sensor on an unencrypted link that this
        computer is not paired with, and may not pair with here, can only have refused.
        """
        if security is None or not security.required or security.link_bonded:
            return False
        return not ours and not self.pair_first_use

    async def _ask_battery(self) -> tuple[bool, int | None]:
        """(whether the protocol has a battery command, the level it read, if it could)."""
        assert self.protocol is not None and self._gatt is not None
        try:
            async with asyncio.timeout(_BATTERY_TIMEOUT_S):
                level = await self.protocol.battery(self._gatt)
        except (BleakError, SensorError, DecodeError, TimeoutError) as exc:
            log.info("battery level not read: %s", exc)
            return True, None
        return level is not None, level

    async def _poll_battery(self) -> None:
        """Ask the level now and then, as a Battery service would notify it."""
        while True:
            await asyncio.sleep(BATTERY_POLL_S)
            try:
                _, level = await self._ask_battery()
            except Exception as exc:  # the link is failing: the session ends and says why
                log.info("battery poll stopped: %r", exc)
                return
            if level is not None:
                self._put(LinkEvent(self._clock(), LinkEventKind.BATTERY, battery_percent=level))

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


def _joined(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


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


# --- pairing (docs/protocol.md, private link) ------------------------------------------------


#: Asks the wearer for the 6-digit passkey on the sensor's label (None: they gave up).
PasskeySource = Callable[[], Awaitable[int | None]]

_ASKS_PASSKEY = (
    "asks for the 6-digit passkey printed on its label (LE Secure Connections passkey entry)"
)


async def _typed_passkey(
    client: BleakClient, name: str, source: PasskeySource | None
) -> dict[str, int]:
    """``pair()``'s passkey argument, asked of ``source`` when the sensor's Security
    characteristic says it wants one and the Bluetooth backend takes it (the virtual radio's;
    BlueZ, CoreBluetooth and Windows ask in the system's own pairing dialog instead)."""
    from monitor.sensors.tiltmon import SECURITY_UUID, decode_security

    backend = getattr(client, "_backend", None)
    if backend is None or "passkey" not in inspect.signature(backend.pair).parameters:
        return {}
    try:
        security = decode_security(await client.read_gatt_char(SECURITY_UUID))
    except (BleakError, DecodeError):  # version 1, or not a tiltmon sensor
        return {}
    if not (security.passkey and security.window_open):
        return {}  # a closed window refuses any pairing: no point asking the wearer
    if source is None:
        raise PasskeyError(
            f"{name} {_ASKS_PASSKEY}: give it with `tiltmon pair --passkey NNNNNN`, or type it"
            " when asked (at a terminal, or on the dashboard's pairing screen)"
        )
    passkey = await source()
    if passkey is None:
        raise PasskeyError(f"{name} {_ASKS_PASSKEY}, and none was given")
    return {"passkey": passkey}


def _passkey_refused(name: str, exc: BaseException) -> str:
    return (
        f"{name} did not accept the passkey ({exc}): check the 6 digits on its label and pair"
        " again while its pairing window is open"
    )


@dataclass(frozen=True, slots=True)
class PairedWith:
    name: str
    address: str
    private: bool  # the sensor asks for an encrypted link (profile version 2)


async def pair_sensor(
    target: str | None = None,
    *,
    seconds: float = 5.0,
    paired: PairedSensors | None = None,
    scanner_backend: type[BaseBleakScanner] | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    passkey: PasskeySource | None = None,
) -> PairedWith:
    """Find one tiltmon sensor, pair (the bond goes to the Bluetooth stack's key store), prove
    the encrypted link by reading its configuration, and record it in ``paired``. A sensor
    that asks for its label's passkey gets it from ``passkey``."""
    from monitor.sensors.tiltmon import PROTOCOL

    try:
        found = await _discover(seconds, scanner_backend, [PROTOCOL])
    except (BleakError, OSError) as exc:
        if _bluetooth_unavailable(exc):
            raise BluetoothUnavailableError(_NO_BLUETOOTH.format(exc)) from exc
        raise SensorError(f"scanning failed: {exc}") from exc
    candidates: dict[str, BLEDevice] = {}
    for device, adv in found.values():
        name = adv.local_name or device.name or ""
        if recognise(name, adv.service_uuids, [PROTOCOL]) is None:
            continue
        if target is None or target.lower() in (device.address.lower(), name.lower()):
            candidates[device.address] = device
    if not candidates:
        what = f"tiltmon sensor {target!r}" if target else "tiltmon sensor"
        raise SensorNotFoundError(f"no {what} found in {seconds:.0f} s")
    if len(candidates) > 1:
        listed = ", ".join(f"{d.name or '?'} {a}" for a, d in sorted(candidates.items()))
        raise SensorError(f"several tiltmon sensors in range ({listed}): pick one with --sensor")
    device = next(iter(candidates.values()))
    name = device.name or device.address
    kwargs: dict[str, Any] = {} if client_backend is None else {"backend": client_backend}
    try:
        try:
            private, address = await _pair_and_prove(device, name, seconds, kwargs, passkey)
        except NotPairedError as refused:
            if isinstance(refused, PasskeyError):
                raise  # the passkey, not a stale bond
            # A bond this computer still holds but the sensor lost (reset, or it forgot the
            # oldest of its hosts) fails before any fresh pairing is tried: forget it, try once
            # more from scratch.
            device = await _forget(device, seconds, kwargs, scanner_backend)
            private, address = await _pair_and_prove(device, name, seconds, kwargs, passkey)
    except (BleakError, TimeoutError) as exc:
        if isinstance(exc, BleakBluetoothNotAvailableError):
            raise BluetoothUnavailableError(_NO_BLUETOOTH.format(exc)) from exc
        raise SensorError(f"could not pair with {name}: {exc}") from exc
    if paired is not None:
        paired.add(address, name, PROTOCOL.name)
    return PairedWith(name, address, private)


async def _forget(
    device: BLEDevice,
    seconds: float,
    kwargs: dict[str, Any],
    scanner_backend: type[BaseBleakScanner] | None,
) -> BLEDevice:
    """Forget this computer's keys for ``device``; the device as found again after."""
    if _bluez_path(device, "backend" not in kwargs) is not None:
        # BlueZ removes the device with its bond (no connection needed; bleak 3.1 asserts when
        # a connected client is closed after unpair) and knows it again once it advertises.
        await BleakClient(device, **kwargs).unpair()
        from monitor.sensors.tiltmon import PROTOCOL

        found = await BleakScanner.find_device_by_address(
            device.address, timeout=seconds, **_scan_args(scanner_backend, [PROTOCOL])
        )
        if found is None:
            raise SensorNotFoundError(f"{device.name or device.address} went out of range")
        return found
    async with BleakClient(device, timeout=seconds + 10, **kwargs) as client:
        await client.unpair()  # forgets this computer's keys for it, and disconnects
    return device


async def _pair_and_prove(
    device: BLEDevice,
    name: str,
    seconds: float,
    kwargs: dict[str, Any],
    passkey: PasskeySource | None = None,
) -> tuple[bool, str]:
    """Pair with ``device`` and read its configuration over the encrypted link; whether it is
    a version-2 (private link) sensor, and its address after pairing (a sensor found under a
    resolvable private address is known by its identity address from then on)."""
    from monitor.sensors.tiltmon import CONFIG_UUID, SECURITY_UUID, decode_security

    async with BleakClient(device, timeout=seconds + 10, **kwargs) as client:
        private = False
        with contextlib.suppress(BleakError, DecodeError):  # version 1 has no such thing
            private = decode_security(await client.read_gatt_char(SECURITY_UUID)).required
        typed = await _typed_passkey(client, name, passkey)
        try:
            await _pair_link(client, device, "backend" not in kwargs, **typed)
        except BleakError as exc:
            if typed:
                raise PasskeyError(_passkey_refused(name, exc)) from exc
            raise NotPairedError(
                f"{name} refused to pair ({exc}): it is paired with another computer or its"
                f" pairing window is closed; {NOT_PAIRED_HINT}"
            ) from exc
        try:
            await client.read_gatt_char(CONFIG_UUID)  # only a bonded, encrypted link may
        except BleakError as exc:
            if not refused_for_security(exc):
                raise
            raise NotPairedError(
                f"{name} paired but still refuses this computer ({exc}); {NOT_PAIRED_HINT}"
            ) from exc
        address = client.address
    return private, address
