"""The simulated belt-clip sensor as a real GATT server on Google's bumble stack.

It implements docs/protocol.md byte for byte: IMU data notifications sized to the negotiated
MTU, a configuration characteristic, a control point answered by indications, and the standard
Battery and Device Information services. Faults (dropped notifications, link loss, a stalled
stream, a low battery) are injected here, in the firmware, so the client under test meets them
exactly as it would meet them from real hardware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from bumble import att, data_types, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.keys import KeyStore, MemoryKeyStore
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate

from firmware_sim import protocol as p
from firmware_sim.sim_time import SimulationClock

log = logging.getLogger(__name__)

DEFAULT_NAME = "tiltmon"
# A packet this late (real seconds) means the computer could not keep up with a fast world.
_KEEP_UP_S = 0.02  # legacy advertising leaves 8 characters beside a 128-bit UUID


class SampleSource(Protocol):
    """Where the firmware's samples come from (firmware_sim.simulation.SimulatedSensor)."""

    def read(
        self, n: int, acc_range_g: int, gyr_range_dps: int
    ) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]: ...


# rate_hz, start time (s of sensor clock) -> a source producing samples from that time on
SourceFactory = Callable[[int, float], SampleSource]


@dataclass(frozen=True, slots=True)
class Faults:
    """Trouble the firmware causes on purpose."""

    drop_fraction: float = 0.0  # share of notifications never sent (seq still advances)
    corrupt_fraction: float = 0.0  # share of notifications sent cut short (a garbled packet)
    disconnect_every_s: float | None = None  # firmware drops the link after this long connected
    stall_after_s: float | None = None  # stop sending (link stays up) after this long streaming
    battery_percent: int = 87
    battery_drain_per_hour: float = 4.0
    # The sensor's crystal this many ppm fast (negative: slow); None: the scenario's own error.
    clock_drift_ppm: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_fraction < 1.0:
            raise ValueError("drop_fraction must be in [0, 1)")
        if not 0.0 <= self.corrupt_fraction < 1.0:
            raise ValueError("corrupt_fraction must be in [0, 1)")
        if self.disconnect_every_s is not None and self.disconnect_every_s <= 0:
            raise ValueError("disconnect_every_s must be positive")
        if not 0 <= self.battery_percent <= 100:
            raise ValueError("battery_percent must be in 0..100")
        if self.clock_drift_ppm is not None and not abs(self.clock_drift_ppm) < 1000.0:
            raise ValueError("clock_drift_ppm must be within ±1000 (crystals do ±100 at worst)")


@dataclass(frozen=True, slots=True)
class Security:
    """Version 2 of the profile (docs/protocol.md, private link): the IMU service answers only
    a host it is bonded with, over an encrypted link; pairing only inside the pairing window."""

    pairing_window_s: float = 120.0  # open this long after power-up (and after a button press)
    max_bonds: int = 2  # hosts remembered; pairing another forgets the longest unused
    unpaired_grace_s: float = 10.0  # outside the window, a link not encrypted by then is dropped
    # LE Secure Connections passkey entry: the 6-digit passkey printed on the sensor's label
    # (or shown on its display), typed on the host; None: Just Works (no display, no keys).
    passkey: int | None = None
    # Once bonded, advertise under resolvable private addresses, a new one this often: bonded
    # hosts resolve them with the identity key (IRK) given at bonding; anyone else sees a
    # stranger each time (15 minutes, the Core specification's recommended default).
    private_address: bool = True
    address_rotation_s: float = 900.0

    def __post_init__(self) -> None:
        if self.pairing_window_s < 0:
            raise ValueError("pairing_window_s must not be negative")
        if not 1 <= self.max_bonds <= 8:
            raise ValueError("max_bonds must be 1..8")
        if self.unpaired_grace_s <= 0:
            raise ValueError("unpaired_grace_s must be positive")
        if self.address_rotation_s <= 0:
            raise ValueError("address_rotation_s must be positive")
        # 000000 is left out: a passkey nobody would print on a label (and bumble's SMP takes 0
        # for "no passkey yet").
        if self.passkey is not None and not 1 <= self.passkey <= 999_999:
            raise ValueError("a passkey is 6 digits, 000001..999999")


def random_passkey() -> int:
    """A label's passkey: six digits, the first not 0 (so it reads as six digits)."""
    return 100_000 + secrets.randbelow(900_000)


class _WindowDelegate(PairingDelegate):
    """Pairing accepted only while the window is open: Just Works (the clip has no display or
    keys), or passkey entry with the label's passkey (a display-only device, to SMP)."""

    def __init__(self, peripheral: SimulatedPeripheral, passkey: int | None) -> None:
        super().__init__(
            io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT
            if passkey is None
            else PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY
        )
        self._peripheral = peripheral
        self._passkey = passkey

    async def generate_passkey(self) -> int:
        assert self._passkey is not None  # SMP asks only a display-only device
        return self._passkey

    async def accept(self) -> bool:
        open_now = self._peripheral.pairing_window_open
        if not open_now:
            self._peripheral.counters.pairings_refused += 1
        return open_now


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    manufacturer: str = "tiltmon project"
    model: str = "tiltmon-sim"
    serial: str = "SIM-0000"
    hardware: str = "virtual-1"
    firmware: str = "sim-0.1.0"


@dataclass(slots=True)
class FirmwareCounters:
    """What the firmware did, for tests to compare with what the client saw."""

    packets_built: int = 0
    samples_built: int = 0
    packets_sent: int = 0
    samples_sent: int = 0
    packets_dropped: int = 0
    samples_dropped: int = 0
    packets_corrupted: int = 0
    samples_corrupted: int = 0
    samples_stalled: int = 0
    disconnects_caused: int = 0
    connections: int = 0
    pairings: int = 0
    pairings_refused: int = 0
    pairings_failed: int = 0  # inside the window: a wrong passkey, or the host gave up
    access_refused: int = 0  # IMU reads/writes refused for want of an encrypted link
    unpaired_links_dropped: int = 0
    # The sensor's sample grid from the first sample streamed to the last one built, sent or
    # not: what a client's timeline should span (samples it received plus those it lost).
    first_sample: int | None = None
    next_sample: int = 0

    @property
    def samples_spanned(self) -> int:
        return 0 if self.first_sample is None else self.next_sample - self.first_sample


class SimulatedDevice:
    """What every simulated sensor shares, whatever its wire protocol: power, its own clock
    and sample grid, the link, the battery, and the faults it injects.

    A protocol's device (:class:`SimulatedPeripheral` here for the tiltmon profile,
    :mod:`firmware_sim.witmotion`, ...) adds its GATT database, its commands and how it frames
    samples (:meth:`_frame`); the motion and error models come in through ``source_factory``.
    """

    def __init__(
        self,
        device: Device,
        source_factory: SourceFactory,
        *,
        faults: Faults = Faults(),
        clock_drift_ppm: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.device = device
        self.faults = faults
        self.counters = FirmwareCounters()
        self._source_factory = source_factory
        if faults.clock_drift_ppm is not None:
            clock_drift_ppm = faults.clock_drift_ppm
        self.clock_drift_ppm = clock_drift_ppm
        self._drift = 1.0 + clock_drift_ppm * 1e-6
        self._rng = random.Random(seed)
        self._battery = float(faults.battery_percent)
        self._boot_time: float | None = None  # on self.clock
        self._connection: Connection | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._fault_tasks: list[asyncio.Task[None]] = []
        self._stalled = False
        self._streamed_s = 0.0
        self.clock = SimulationClock()
        # The wearer can be asked to act out another scenario (a demo's wearer following the
        # calibration wizard): (scenario, rate, start s) -> its samples, and one asked for.
        self.scenario_factory: Callable[[str, int, float], SampleSource] | None = None
        self._next_scenario: str | None = None

    def act_out(self, scenario: str) -> None:
        """From the next packet on, the wearer does ``scenario`` from its beginning (its motion
        only: the sensor's clock, sample grid and link carry on)."""
        if self.scenario_factory is None:
            raise RuntimeError("this device's wearer follows one scenario only")
        self._next_scenario = scenario

    @property
    def speed(self) -> float:
        """How many seconds of the simulated world pass per real second (1: real time). At 60 a
        demo sees the wearer's hour in a minute; the sample grid, timestamps, battery and faults
        all follow :attr:`clock`, so a client sees an ordinary sensor whose time runs fast."""
        return self.clock.speed

    @speed.setter
    def speed(self, speed: float) -> None:
        if self._boot_time is not None:
            raise RuntimeError("set the speed before the device starts")
        self.clock = SimulationClock(speed)

    # --- what a protocol's device provides ----------------------------------------------------

    def _frame(self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]) -> bytes:
        """The notification carrying samples ``index``… of the sensor's grid."""
        raise NotImplementedError

    def _frames(
        self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]
    ) -> list[bytes]:
        """The notifications carrying these samples (one, unless accelerometer and gyroscope
        travel apart); faults hit each notification on its own."""
        return [self._frame(index, acc, gyr)]

    async def _send(self, connection: Connection, payload: bytes) -> None:
        raise NotImplementedError

    def _on_battery_change(self, connection: Connection, percent: int) -> None:
        """The battery level moved by a percent (a device with a Battery service notifies)."""

    def _on_link_down(self) -> None:
        """The link is gone and streaming has stopped."""

    # bumble's GATT server does not enforce permissions, so the firmware refuses by itself.
    def _reject_write(self, _conn: Connection, _value: bytes) -> None:
        raise att.ATT_Error(att.ErrorCode.WRITE_NOT_PERMITTED)

    def _reject_read(self, _conn: Connection) -> bytes:
        raise att.ATT_Error(att.ErrorCode.READ_NOT_PERMITTED)

    # --- GATT pieces every model shares ------------------------------------------------------

    def _listen(self, advertised: list[Any]) -> None:
        """Advertise ``advertised`` after the discoverable flags; take connections."""
        flags = data_types.Flags(
            AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
            | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
        )
        self.device.advertising_data = bytes(AdvertisingData([flags, *advertised]))
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)

    @staticmethod
    def _device_info_service(info: list[tuple[str, str]]) -> Service:
        """The standard Device Information service: read-only strings."""
        read = Characteristic.Properties.READ
        return Service(
            p.DEVICE_INFO_SERVICE_UUID,
            [
                Characteristic(uuid, read, Characteristic.READABLE, text.encode())
                for uuid, text in info
            ],
        )

    def _battery_service(self) -> Service:
        """The standard Battery service; the level is notified as it drains
        (:meth:`_notify_battery_level` from :meth:`_on_battery_change`)."""
        props = Characteristic.Properties
        self.battery_level_char: Characteristic[bytes] = Characteristic(
            p.BATTERY_LEVEL_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(
                read=lambda _conn: bytes([self.battery_percent]), write=self._reject_write
            ),
        )
        return Service(p.BATTERY_SERVICE_UUID, [self.battery_level_char])

    def _notify_battery_level(self, connection: Connection, percent: int) -> None:
        async def notify() -> None:
            with contextlib.suppress(Exception):  # the link may already be gone
                await self.device.notify_subscriber(
                    connection, self.battery_level_char, bytes([percent])
                )

        asyncio.get_running_loop().create_task(notify())

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Power on and advertise (advertising restarts by itself after each disconnect)."""
        await self.device.power_on()
        self._boot_time = self.clock.elapsed()
        await self._advertise()

    async def _advertise(self) -> None:
        await self.device.start_advertising(
            auto_restart=True, advertising_interval_min=20, advertising_interval_max=20
        )

    async def stop(self) -> None:
        await self._cancel_stream()
        self._cancel_fault_tasks()
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.disconnect()

    @property
    def battery_percent(self) -> int:
        return max(0, min(100, math.ceil(self._battery)))

    @property
    def sensor_time(self) -> float:
        """The sensor's own clock (s since power-on), running at its drifted rate."""
        if self._boot_time is None:
            return 0.0
        return (self.clock.elapsed() - self._boot_time) * self._drift

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self.counters.connections += 1
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        loop = asyncio.get_running_loop()
        if self.faults.disconnect_every_s is not None:
            self._fault_tasks.append(loop.create_task(self._drop_link_later(connection)))
        self._fault_tasks.append(loop.create_task(self._battery_ticks(connection)))

    def _on_disconnection(self, _reason: int) -> None:
        self._connection = None
        self._cancel_fault_tasks()
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None
        # Like most sensors: a lost link ends streaming; the client starts it again.
        self._on_link_down()

    def _cancel_fault_tasks(self) -> None:
        for task in self._fault_tasks:
            task.cancel()
        self._fault_tasks.clear()

    async def drop_link(self) -> None:
        """Firmware-initiated disconnect, as when the wearer walks out of range."""
        connection = self._connection
        if connection is not None:
            self.counters.disconnects_caused += 1
            # Nothing more goes out on this link, so no notification the controller throws away
            # with the connection is counted as sent.
            await self._cancel_stream()
            await connection.disconnect(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    async def _drop_link_later(self, connection: Connection) -> None:
        assert self.faults.disconnect_every_s is not None
        await self.clock.sleep(self.faults.disconnect_every_s)
        if self._connection is connection:
            await self.drop_link()

    async def _battery_ticks(self, connection: Connection) -> None:
        shown = self.battery_percent
        while True:
            await self.clock.sleep(1.0)
            self._battery -= self.faults.battery_drain_per_hour / 3600.0
            if self.battery_percent != shown:
                shown = self.battery_percent
                self._on_battery_change(connection, shown)

    # --- the sample stream -----------------------------------------------------------------

    def _begin_stream(
        self, connection: Connection, rate_hz: int, per_packet: int, ranges: tuple[int, int]
    ) -> None:
        self._stalled = False
        self._stream_task = asyncio.get_running_loop().create_task(
            self._stream(connection, rate_hz, per_packet, ranges)
        )

    async def _cancel_stream(self) -> None:
        task, self._stream_task = self._stream_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _stream(
        self, connection: Connection, rate: int, per_packet: int, ranges: tuple[int, int]
    ) -> None:
        assert self._boot_time is not None
        # The sensor samples on its own grid since power-on; streaming joins it at the next tick.
        index = math.ceil(self.sensor_time * rate)
        source = self._source_factory(rate, index / rate)
        stall_at = (
            self._streamed_s + self.faults.stall_after_s
            if self.faults.stall_after_s is not None
            else math.inf
        )
        while True:
            last_sample_time = (index + per_packet - 1) / rate
            due = self._boot_time + last_sample_time / self._drift
            delay = self.clock.wall_delay(due - self.clock.elapsed())
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > _KEEP_UP_S:
                self.clock.hold(-delay)  # the computer fell behind: a fast world waits for it
            if self._next_scenario is not None and self.scenario_factory is not None:
                source = self.scenario_factory(self._next_scenario, rate, 0.0)
                self._next_scenario = None
            acc, gyr = source.read(per_packet, *ranges)
            payloads = self._frames(index, acc, gyr)
            if self.counters.first_sample is None:
                self.counters.first_sample = index
            index += per_packet
            self.counters.next_sample = index
            self._streamed_s += per_packet / rate
            self.counters.packets_built += 1
            self.counters.samples_built += per_packet
            if self._streamed_s >= stall_at:
                self._stalled = True
            if self._stalled:
                self.counters.samples_stalled += per_packet
                continue
            dropped = corrupted = False
            for payload in payloads:
                if self.faults.drop_fraction and self._rng.random() < self.faults.drop_fraction:
                    self.counters.packets_dropped += 1
                    dropped = True
                    continue
                if (
                    self.faults.corrupt_fraction
                    and self._rng.random() < self.faults.corrupt_fraction
                ):
                    self.counters.packets_corrupted += 1
                    corrupted = True
                    payload = payload[: len(payload) - 5]  # a length that matches no count
                await self._send(connection, payload)
                self.counters.packets_sent += 1
            # A sample counts as sent when every notification carrying it went out.
            if dropped:
                self.counters.samples_dropped += per_packet
            else:
                self.counters.samples_sent += per_packet
                if corrupted:
                    self.counters.samples_corrupted += per_packet


class SimulatedPeripheral(SimulatedDevice):
    """A GATT server with the tiltmon profile, attached to a bumble ``Device``."""

    def __init__(
        self,
        device: Device,
        source_factory: SourceFactory,
        *,
        faults: Faults = Faults(),
        identity: DeviceIdentity = DeviceIdentity(),
        clock_drift_ppm: float = 0.0,
        seed: int = 0,
        initial: p.SensorConfig | None = None,
        security: Security | None = None,
    ) -> None:
        super().__init__(
            device, source_factory, faults=faults, clock_drift_ppm=clock_drift_ppm, seed=seed
        )
        self.identity = identity
        self.config = replace(initial or p.SensorConfig(), streaming=False)
        self.security = security
        self._sequence = 0
        self._last_packet = b""
        self._window_until = -math.inf  # host loop time the pairing window closes
        self._bonds: list[str] = []  # peers' addresses, longest unused first
        self._build_gatt()
        self._advertising_task: asyncio.Task[None] | None = None
        self._rotation_task: asyncio.Task[None] | None = None
        self._stopping = False
        if security is not None:
            # Its identity resolving key, given to each host at bonding (bumble's default is
            # all zeros, which would let anyone resolve the private addresses).
            self.device.irk = secrets.token_bytes(16)
            self.device.keystore = MemoryKeyStore()
            self.device.pairing_config_factory = lambda _connection: PairingConfig(
                sc=True,
                mitm=security.passkey is not None,
                bonding=True,
                delegate=_WindowDelegate(self, security.passkey),
            )
            self.device.on(Device.EVENT_CONNECTION, self._watch_security)

    # --- the private link (profile version 2) -----------------------------------------------

    @property
    def pairing_window_open(self) -> bool:
        if self.security is None:
            return True
        return asyncio.get_running_loop().time() < self._window_until

    def open_pairing_window(self, seconds: float | None = None) -> None:
        """The wearer pressed the button: accept pairing for a while."""
        if self.security is None:
            raise ValueError("an open (version 1) sensor has no pairing window")
        length = self.security.pairing_window_s if seconds is None else seconds
        self._window_until = asyncio.get_running_loop().time() + length

    def close_pairing_window(self) -> None:
        self._window_until = -math.inf

    @property
    def bonded_hosts(self) -> list[str]:
        return list(self._bonds)

    async def forget_bonds(self) -> None:
        """Fault: the sensor lost its bonds (a reset, a firmware update that wiped flash)."""
        keystore = self.device.keystore
        for address in self._bonds:
            if keystore is not None:
                with contextlib.suppress(KeyError):
                    await keystore.delete(address)
        self._bonds.clear()

    def _is_bonded(self, connection: Connection) -> bool:
        return str(connection.peer_address) in self._bonds

    def _guard(self, connection: Connection | None) -> None:
        """The IMU service answers an encrypted link only (bumble would say Insufficient
        Encryption to everyone; the Core spec says Insufficient Authentication to a host
        without a bond, which is what tells it to pair)."""
        if self.security is None or connection is None or connection.is_encrypted:
            return
        self.counters.access_refused += 1
        if self._is_bonded(connection):
            raise att.ATT_Error(att.ErrorCode.INSUFFICIENT_ENCRYPTION)
        raise att.ATT_Error(att.ErrorCode.INSUFFICIENT_AUTHENTICATION)

    def _watch_security(self, connection: Connection) -> None:
        connection.on(Connection.EVENT_PAIRING, lambda _keys: self._on_paired(connection))
        connection.on(Connection.EVENT_PAIRING_FAILURE, self._on_pairing_failed)
        if not self.pairing_window_open:
            self._fault_tasks.append(
                asyncio.get_running_loop().create_task(self._drop_if_unpaired(connection))
            )

    def _on_paired(self, connection: Connection) -> None:
        assert self.security is not None
        self.counters.pairings += 1
        address = str(connection.peer_address)
        if address in self._bonds:
            self._bonds.remove(address)
        self._bonds.append(address)
        self.close_pairing_window()  # one pairing per press of the button
        while len(self._bonds) > self.security.max_bonds:
            evicted = self._bonds.pop(0)
            keystore = self.device.keystore
            if keystore is not None:
                asyncio.get_running_loop().create_task(_forget(keystore, evicted))

    def _on_pairing_failed(self, _reason: object) -> None:
        # A wrong passkey (or a host that gave up); refusals outside the window count in accept.
        if self.pairing_window_open:
            self.counters.pairings_failed += 1

    async def _drop_if_unpaired(self, connection: Connection) -> None:
        """Outside the window, a host that cannot encrypt does not get to hold the sensor (and
        keep it from advertising to its owner)."""
        assert self.security is not None
        await asyncio.sleep(self.security.unpaired_grace_s)
        if self._connection is connection and not connection.is_encrypted:
            self.counters.unpaired_links_dropped += 1
            with contextlib.suppress(Exception):
                await connection.disconnect(hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    async def start(self) -> None:
        await super().start()
        if self.security is not None:
            self.open_pairing_window()  # the first minutes after power-up

    # --- GATT database ---------------------------------------------------------------------

    def _build_gatt(self) -> None:
        props = Characteristic.Properties
        self.imu_data: Characteristic[bytes] = Characteristic(
            p.IMU_DATA_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=self._read_last_packet, write=self._reject_write),
        )
        self.config_char: Characteristic[bytes] = Characteristic(
            p.CONFIG_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=self._read_config, write=self._reject_write),
        )
        self.control_point: Characteristic[bytes] = Characteristic(
            p.CONTROL_POINT_UUID,
            props.WRITE | props.INDICATE,
            Characteristic.WRITEABLE,
            CharacteristicValue(read=self._reject_read, write=self._on_control_write),
        )
        self.battery_level: Characteristic[bytes] = Characteristic(
            p.BATTERY_LEVEL_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(
                read=lambda _conn: bytes([self.battery_percent]), write=self._reject_write
            ),
        )
        info = [
            (p.MANUFACTURER_NAME_UUID, self.identity.manufacturer),
            (p.MODEL_NUMBER_UUID, self.identity.model),
            (p.SERIAL_NUMBER_UUID, self.identity.serial),
            (p.HARDWARE_REVISION_UUID, self.identity.hardware),
            (p.FIRMWARE_REVISION_UUID, self.identity.firmware),
        ]
        imu_chars = [self.imu_data, self.config_char, self.control_point]
        if self.security is not None:
            imu_chars.append(
                Characteristic(
                    p.SECURITY_UUID,
                    props.READ,
                    Characteristic.READABLE,
                    CharacteristicValue(read=self._read_security, write=self._reject_write),
                )
            )
        self.device.add_services(
            [
                Service(p.IMU_SERVICE_UUID, imu_chars),
                Service(p.BATTERY_SERVICE_UUID, [self.battery_level]),
                self._device_info_service(info),
            ]
        )
        self._listen(
            [
                data_types.CompleteListOf128BitServiceUUIDs([UUID(p.IMU_SERVICE_UUID)]),
                # bumble's virtual controller echoes the advertisement as the scan response,
                # so the name has to ride in the advertisement itself.
                data_types.CompleteLocalName(self.device.name[:8]),
            ]
        )

    def _read_last_packet(self, connection: Connection) -> bytes:
        self._guard(connection)
        return self._last_packet

    def _read_config(self, connection: Connection) -> bytes:
        self._guard(connection)
        return p.encode_config(self.config)

    def _read_security(self, connection: Connection) -> bytes:
        assert self.security is not None
        return p.encode_security(
            window_open=self.pairing_window_open,
            link_bonded=connection.is_encrypted and self._is_bonded(connection),
            bonds=len(self._bonds),
            max_bonds=self.security.max_bonds,
            passkey=self.security.passkey is not None,
        )

    def _on_battery_change(self, connection: Connection, percent: int) -> None:
        asyncio.get_running_loop().create_task(self._notify_battery(connection, percent))

    async def _notify_battery(self, connection: Connection, percent: int) -> None:
        with contextlib.suppress(Exception):  # the link may already be gone
            await self.device.notify_subscriber(connection, self.battery_level, bytes([percent]))

    def _on_link_down(self) -> None:
        self.config = replace(self.config, streaming=False)
        if self._private_addresses and not self._stopping:
            self._readvertise()

    def _readvertise(self, *, new_address: bool = False) -> asyncio.Task[None]:
        """Advertise again (in a task of its own: cancelling a wait for an HCI command would
        leave bumble's host expecting its answer)."""
        self._advertising_task = asyncio.get_running_loop().create_task(
            self._advertise(new_address=new_address)
        )
        return self._advertising_task

    # --- resolvable private addresses ----------------------------------------------------------

    @property
    def _private_addresses(self) -> bool:
        return self.security is not None and self.security.private_address

    @property
    def advertised_address(self) -> hci.Address:
        """The address it advertises under now: its identity (static) address until a host
        bonds, then a resolvable private address."""
        return self.device.random_address

    @property
    def identity_address(self) -> hci.Address:
        return self.device.static_address

    async def _advertise(self, *, new_address: bool = False) -> None:
        if not self._private_addresses:
            await super()._advertise()
            return
        with contextlib.suppress(Exception):  # an advertising set the connection ended
            await self.device.stop_advertising()
        # Unbonded, it must be found to be paired; bonded, only its hosts need to know it. The
        # private address changes on the rotation timer (as real stacks do), not at every
        # link: a host retrying at once still finds the sensor where it just saw it.
        address = self.device.random_address
        if not self._bonds:
            address = self.device.static_address
        elif new_address or not address.is_resolvable:
            address = hci.Address.generate_private_address(self.device.irk)
        # The controller's own address too, not only the advertising set's: bumble's virtual
        # link addresses a connection's packets by it.
        await self.device.send_command(
            hci.HCI_LE_Set_Random_Address_Command(random_address=address)
        )
        self.device.random_address = address
        await self.device.start_advertising(
            auto_restart=False, advertising_interval_min=20, advertising_interval_max=20
        )
        if self._rotation_task is None:
            self._rotation_task = asyncio.get_running_loop().create_task(self._rotate())

    async def rotate_address(self) -> None:
        """A new private address now (what the rotation timer does), if bonded and idle."""
        if self._connection is None and self._bonds and not self._stopping:
            await asyncio.shield(self._readvertise(new_address=True))

    async def _rotate(self) -> None:
        """A new private address every ``address_rotation_s`` while advertising."""
        assert self.security is not None
        while True:
            await self.clock.sleep(self.security.address_rotation_s)
            await self.rotate_address()

    async def stop(self) -> None:
        self._stopping = True
        if self._rotation_task is not None:
            self._rotation_task.cancel()
        if self._advertising_task is not None:
            with contextlib.suppress(Exception):
                await self._advertising_task  # let its HCI commands finish
        await super().stop()

    # --- control point ---------------------------------------------------------------------

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
        self._guard(connection)
        opcode = value[0] if value else 0
        status = self._execute(bytes(value))
        # Answer after the write response, as the control-point contract says.
        asyncio.get_running_loop().create_task(
            self._indicate(connection, p.encode_control_response(opcode, status))
        )

    async def _indicate(self, connection: Connection, response: bytes) -> None:
        with contextlib.suppress(Exception):  # the link may already be gone
            await self.device.indicate_subscriber(connection, self.control_point, response)

    def _execute(self, request: bytes) -> p.Status:
        if not request:
            return p.Status.MALFORMED
        opcode, params = request[0], request[1:]
        if opcode not in set(p.Opcode):
            return p.Status.OPCODE_NOT_SUPPORTED
        op = p.Opcode(opcode)
        if op in (p.Opcode.START_STREAMING, p.Opcode.STOP_STREAMING):
            if params:
                return p.Status.MALFORMED
            if op is p.Opcode.START_STREAMING:
                return self._start_streaming()
            asyncio.get_running_loop().create_task(self._stop_streaming())
            return p.Status.SUCCESS
        if self.config.streaming:
            return p.Status.INVALID_STATE  # settings change only while idle
        if op is p.Opcode.SET_RATE:
            if len(params) != p.SET_RATE_PARAMS.size:
                return p.Status.MALFORMED
            (rate,) = p.SET_RATE_PARAMS.unpack(params)
            if rate not in p.SAMPLE_RATES_HZ:
                return p.Status.INVALID_PARAMETER
            self._set_config(rate_hz=rate)
            return p.Status.SUCCESS
        if len(params) != p.SET_RANGES_PARAMS.size:
            return p.Status.MALFORMED
        acc_g, gyr_dps = p.SET_RANGES_PARAMS.unpack(params)
        if acc_g not in p.ACC_RANGES_G or gyr_dps not in p.GYR_RANGES_DPS:
            return p.Status.INVALID_PARAMETER
        self._set_config(acc_range_g=acc_g, gyr_range_dps=gyr_dps)
        return p.Status.SUCCESS

    def _set_config(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)
        if self._connection is not None:
            asyncio.get_running_loop().create_task(self._notify_config(self._connection))

    async def _notify_config(self, connection: Connection) -> None:
        with contextlib.suppress(Exception):
            await self.device.notify_subscriber(
                connection, self.config_char, p.encode_config(self.config)
            )

    def _start_streaming(self) -> p.Status:
        connection = self._connection
        if connection is None:
            return p.Status.INVALID_STATE
        if self.config.streaming:
            return p.Status.SUCCESS
        per_packet = p.samples_per_packet(connection.att_mtu, has_gyro=self.config.has_gyro)
        self._set_config(streaming=True, samples_per_packet=per_packet)
        config = self.config
        self._begin_stream(
            connection, config.rate_hz, per_packet, (config.acc_range_g, config.gyr_range_dps)
        )
        return p.Status.SUCCESS

    async def _stop_streaming(self) -> None:
        await self._cancel_stream()
        if self.config.streaming:
            self._set_config(streaming=False)

    # --- framing -------------------------------------------------------------------------

    def _frame(self, index: int, acc: npt.NDArray[np.int16], gyr: npt.NDArray[np.int16]) -> bytes:
        config = self.config
        packet = p.encode_imu_packet(
            self._sequence,
            p.timestamp_us(index, config.rate_hz),
            acc,
            gyr if config.has_gyro else None,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._last_packet = packet
        return packet

    async def _send(self, connection: Connection, payload: bytes) -> None:
        await self.device.notify_subscriber(connection, self.imu_data, payload)


async def _forget(keystore: KeyStore, address: str) -> None:
    with contextlib.suppress(KeyError):
        await keystore.delete(address)


__all__ = [
    "DEFAULT_NAME",
    "DeviceIdentity",
    "Faults",
    "FirmwareCounters",
    "SampleSource",
    "Security",
    "SimulatedDevice",
    "SimulatedPeripheral",
    "SourceFactory",
    "random_passkey",
]


def simulated_sensor_on_link(
    link: LocalLink,
    scenario: str,
    *,
    seed: int = 0,
    faults: Faults = Faults(),
    name: str = DEFAULT_NAME,
    security: Security | None = None,
) -> SimulatedPeripheral:
    """A complete simulated belt clip on a virtual link: motion scenario, IMU errors, GATT."""
    from firmware_sim.radio import new_peripheral_device
    from firmware_sim.simulation import SimulatedSensor

    # Fail early on an unknown scenario; the probe also tells this sensor's clock drift.
    probe = SimulatedSensor(scenario, seed=seed, rate_hz=100)

    def source(rate_hz: int, start_s: float) -> SimulatedSensor:
        return SimulatedSensor(scenario, seed=seed, rate_hz=rate_hz, start_s=start_s)

    return SimulatedPeripheral(
        new_peripheral_device(link, name),
        source,
        faults=faults,
        identity=DeviceIdentity(serial=f"SIM-{seed:04d}"),
        clock_drift_ppm=probe.clock_drift_ppm,
        seed=seed,
        security=security,
    )
