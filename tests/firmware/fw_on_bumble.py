"""The clip firmware's core (firmware/tiltmon_fw) as a bumble GATT peripheral on the virtual radio.

A thin stand-in for firmware/code.py: where code.py uses adafruit_ble, the board's IMU and ADC,
this uses bumble, firmware_sim's simulated IMU (already in the protocol's counts, so no
``Scaler``) and a fixed battery voltage. Every protocol decision (control point, batch size,
sample grid, timestamps, sequence numbers, packet bytes) is the firmware's own code, so a
client streaming from this is streaming from the firmware's logic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bumble import att, data_types
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.keys import MemoryKeyStore
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from tiltmon_fw import FIRMWARE_VERSION, control
from tiltmon_fw import profile as p
from tiltmon_fw.battery import BatteryGauge
from tiltmon_fw.packets import encode_config
from tiltmon_fw.pairing import WINDOW_US, PairingWindow, encode_security
from tiltmon_fw.stream import Streamer, grid_index_at

from firmware_sim.radio import new_peripheral_device
from firmware_sim.simulation import SimulatedSensor

BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER = "00002a24-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION = "00002a26-0000-1000-8000-00805f9b34fb"


@dataclass
class SentLog:
    """What the firmware put on the air, to compare with what the client saw."""

    packets: list[bytes] = field(default_factory=list)
    samples: list[tuple[int, int, int]] = field(default_factory=list)  # acc counts, in order
    missed: int = 0
    abandoned_samples: int = 0
    lost_before: list[int] = field(default_factory=list)  # samples lost before each packet


class _WindowDelegate(PairingDelegate):
    """Just Works, accepted while the firmware's pairing window is open (what code.py would do
    on a stack that lets it refuse)."""

    def __init__(self, firmware: FirmwareOnBumble) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT)
        self.firmware = firmware

    async def accept(self) -> bool:
        return self.firmware.window.is_open(self.firmware.now_us())


class FirmwareOnBumble:
    def __init__(
        self,
        link: LocalLink,
        scenario: str = "desk_short",
        *,
        seed: int = 0,
        private: bool = False,
        window_us: int = WINDOW_US,
    ) -> None:
        self.device: Device = new_peripheral_device(link, "tiltmon")
        self.private = private
        self.window = PairingWindow(0, window_us)
        if private:
            self.device.keystore = MemoryKeyStore()
            self.device.pairing_config_factory = lambda _c: PairingConfig(
                sc=True, mitm=False, bonding=True, delegate=_WindowDelegate(self)
            )
        self.scenario, self.seed = scenario, seed
        self.settings = control.Settings()
        self.control = control.ControlPoint(self.settings)
        self.gauge = BatteryGauge()
        self.gauge.update(3.9)
        self.sent = SentLog()
        self._sequence = 0
        self._boot = 0.0
        self._connection: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_packet = b""
        self._background: set[asyncio.Task[None]] = set()
        self._build_gatt()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _guard(self, connection: Connection) -> None:
        """What ENCRYPT_NO_MITM permissions make the nRF stack answer an unencrypted host."""
        if self.private and not connection.is_encrypted:
            raise att.ATT_Error(att.ErrorCode.INSUFFICIENT_AUTHENTICATION)

    def _read_guarded(self, value: Callable[[], bytes]) -> Callable[[Connection], bytes]:
        def read(connection: Connection) -> bytes:
            self._guard(connection)
            return value()

        return read

    def _build_gatt(self) -> None:
        props = Characteristic.Properties

        def refuse_write(_c: Connection, _v: bytes) -> None:
            raise att.ATT_Error(att.ErrorCode.WRITE_NOT_PERMITTED)

        self.imu_data: Characteristic[bytes] = Characteristic(
            p.IMU_DATA_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(
                read=self._read_guarded(lambda: self._last_packet), write=refuse_write
            ),
        )
        self.config: Characteristic[bytes] = Characteristic(
            p.CONFIG_UUID,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(
                read=self._read_guarded(lambda: encode_config(self.settings)),
                write=refuse_write,
            ),
        )
        self.control_point: Characteristic[bytes] = Characteristic(
            p.CONTROL_POINT_UUID,
            props.WRITE | props.INDICATE,
            Characteristic.WRITEABLE,
            CharacteristicValue(write=self._on_write),
        )
        battery = Characteristic(
            BATTERY_LEVEL,
            props.READ | props.NOTIFY,
            Characteristic.READABLE,
            CharacteristicValue(read=lambda _c: bytes([self.gauge.level or 0])),
        )
        read = Characteristic.Properties.READ
        info = [
            Characteristic(MODEL_NUMBER, read, Characteristic.READABLE, b"tiltmon-diy"),
            Characteristic(
                FIRMWARE_REVISION, read, Characteristic.READABLE, FIRMWARE_VERSION.encode()
            ),
        ]
        imu_chars = [self.imu_data, self.config, self.control_point]
        if self.private:
            imu_chars.append(
                Characteristic(
                    p.SECURITY_UUID,
                    props.READ,
                    Characteristic.READABLE,
                    CharacteristicValue(
                        read=lambda c: encode_security(
                            self.window.is_open(self.now_us()), c.is_encrypted
                        )
                    ),
                )
            )
        self.device.add_services(
            [
                Service(p.IMU_SERVICE_UUID, imu_chars),
                Service(BATTERY_SERVICE, [battery]),
                Service(DEVICE_INFO_SERVICE, info),
            ]
        )
        flags = data_types.Flags(
            AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
            | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
        )
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    flags,
                    data_types.CompleteListOf128BitServiceUUIDs([UUID(p.IMU_SERVICE_UUID)]),
                    data_types.CompleteLocalName("tiltmon"),
                ]
            )
        )
        self.device.on(Device.EVENT_CONNECTION, self._on_connection)

    async def start(self) -> None:
        await self.device.power_on()
        self._boot = asyncio.get_running_loop().time()
        self.window = PairingWindow(0, self.window.length_us)  # opens at power-up
        await self.device.start_advertising(auto_restart=True)

    async def stop(self) -> None:
        await self._stop_sampling()
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()

    def now_us(self) -> int:
        return int((asyncio.get_running_loop().time() - self._boot) * 1e6)

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        connection.on(Connection.EVENT_PAIRING, lambda _keys: self.window.paired())

        def on_disconnection(_reason: int) -> None:
            self._connection = None
            if self.control.link_lost() == control.STOP:
                self._spawn(self._stop_sampling())

        connection.on(Connection.EVENT_DISCONNECTION, on_disconnection)

    def _on_write(self, connection: Connection, value: bytes) -> None:
        self._guard(connection)
        answer, action = self.control.handle(bytes(value), connection.att_mtu)
        if action == control.START:
            streamer = Streamer(
                self.settings.rate_hz,
                self.settings.samples_per_packet,
                self.settings.has_gyro,
                self.now_us(),
                self._sequence,
            )
            self._task = asyncio.get_running_loop().create_task(self._sample(connection, streamer))
        elif action == control.STOP:
            self._spawn(self._stop_sampling())
        if action != control.NOTHING:
            self._spawn(self._notify(connection, self.config, encode_config(self.settings)))
        self._spawn(self._indicate(connection, answer))

    async def _indicate(self, connection: Connection, answer: bytes) -> None:
        with contextlib.suppress(Exception):
            await self.device.indicate_subscriber(connection, self.control_point, answer)

    async def _notify(
        self, connection: Connection, char: Characteristic[bytes], value: bytes
    ) -> None:
        with contextlib.suppress(Exception):
            await self.device.notify_subscriber(connection, char, value)

    async def _stop_sampling(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sample(self, connection: Connection, streamer: Streamer) -> None:
        """code.py's loop: sleep to the next grid point, read the IMU, add, notify."""
        rate = streamer.rate_hz
        imu = SimulatedSensor(
            self.scenario, seed=self.seed, rate_hz=rate, start_s=streamer.next_index / rate
        )
        batch: list[tuple[int, int, int]] = []  # acc counts of the batch being filled
        try:
            while True:
                wait = streamer.next_due_us() - self.now_us()
                if wait > 0:
                    await asyncio.sleep(wait / 1e6)
                now = self.now_us()
                skipped = grid_index_at(now, rate) - imu.sample_index
                if skipped:  # the IMU moved on while the loop was late
                    imu.read(skipped)
                acc, gyr = imu.read(1, self.settings.acc_range_g, self.settings.gyr_range_dps)
                abandoned = streamer.batches_abandoned
                packet = streamer.add([*acc[0].tolist(), *gyr[0].tolist()], now)
                self.sent.missed = streamer.samples_missed
                if streamer.batches_abandoned != abandoned:
                    self.sent.abandoned_samples += len(batch)
                    batch.clear()
                ax, ay, az = (int(v) for v in acc[0])
                batch.append((ax, ay, az))
                if packet is not None:
                    self._last_packet = packet
                    self.sent.packets.append(packet)
                    self.sent.lost_before.append(self.sent.missed + self.sent.abandoned_samples)
                    self.sent.samples += batch
                    batch.clear()
                    await self.device.notify_subscriber(connection, self.imu_data, packet)
        finally:
            self._sequence = streamer.sequence
