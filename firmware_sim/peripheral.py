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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from bumble import att, data_types, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.link import LocalLink

from firmware_sim import protocol as p

log = logging.getLogger(__name__)

DEFAULT_NAME = "tiltmon"  # legacy advertising leaves 8 characters beside a 128-bit UUID


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
        self._boot_host_time: float | None = None
        self._connection: Connection | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._fault_tasks: list[asyncio.Task[None]] = []
        self._stalled = False
        self._streamed_s = 0.0

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

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Power on and advertise (advertising restarts by itself after each disconnect)."""
        await self.device.power_on()
        self._boot_host_time = asyncio.get_running_loop().time()
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
        if self._boot_host_time is None:
            return 0.0
        return (asyncio.get_running_loop().time() - self._boot_host_time) * self._drift

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
        await asyncio.sleep(self.faults.disconnect_every_s)
        if self._connection is connection:
            await self.drop_link()

    async def _battery_ticks(self, connection: Connection) -> None:
        shown = self.battery_percent
        while True:
            await asyncio.sleep(1.0)
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
        loop = asyncio.get_running_loop()
        assert self._boot_host_time is not None
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
            due = self._boot_host_time + last_sample_time / self._drift
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
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
    ) -> None:
        super().__init__(
            device, source_factory, faults=faults, clock_drift_ppm=clock_drift_ppm, seed=seed
        )
        self.identity = identity
        self.config = replace(initial or p.SensorConfig(), streaming=False)
        self._sequence = 0
        self._last_packet = b""
        self._build_gatt()

    # --- GATT database ---------------------------------------------------------------------

    def _build_gatt(self) -> None:
        props = Characteristic.Properties
        self.imu_data: Characteristic[bytes] = Characteristic(
            p.IMU_DATA_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=lambda _conn: self._last_packet, write=self._reject_write),
        )
        self.config_char: Characteristic[bytes] = Characteristic(
            p.CONFIG_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(
                read=lambda _conn: p.encode_config(self.config), write=self._reject_write
            ),
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
        self.device.add_services(
            [
                Service(p.IMU_SERVICE_UUID, [self.imu_data, self.config_char, self.control_point]),
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

    def _on_battery_change(self, connection: Connection, percent: int) -> None:
        asyncio.get_running_loop().create_task(self._notify_battery(connection, percent))

    async def _notify_battery(self, connection: Connection, percent: int) -> None:
        with contextlib.suppress(Exception):  # the link may already be gone
            await self.device.notify_subscriber(connection, self.battery_level, bytes([percent]))

    def _on_link_down(self) -> None:
        self.config = replace(self.config, streaming=False)

    # --- control point ---------------------------------------------------------------------

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
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


__all__ = [
    "DEFAULT_NAME",
    "DeviceIdentity",
    "Faults",
    "FirmwareCounters",
    "SampleSource",
    "SimulatedDevice",
    "SimulatedPeripheral",
    "SourceFactory",
]


def simulated_sensor_on_link(
    link: LocalLink,
    scenario: str,
    *,
    seed: int = 0,
    faults: Faults = Faults(),
    name: str = DEFAULT_NAME,
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
    )
