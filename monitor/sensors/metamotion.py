"""mbientlab MetaMotion (MetaWear firmware, Bosch BMI160): a coin-sized IMU with a clip case.

The client writes ``[module, register, data...]`` to one command characteristic and hears on
one notify characteristic in the same shape. The accelerometer is module 0x03 and the
gyroscope module 0x13; each is configured (output data rate and range), has its data signal
subscribed, is enabled and started. In packed mode one notification carries three samples of
one sensor (``03 1c`` accelerometer, ``13 07`` gyroscope), int16 x y z each after the two-byte
header. Data carry no time stamp and no counter, so samples are placed by arrival
(:attr:`Timing.ARRIVAL`); accelerometer and gyroscope travel apart and are paired here, in the
order the firmware sends them (accelerometer first, each packet's gyroscope right after).

Reading a register is the register with bit 7 set (``03 83`` reads the accelerometer's
configuration back), answered on the notify characteristic: ``start`` reads both configurations
back so a device that ignored a command is told, not trusted. The BMI270 boards use other codes
and are not handled here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.errors import DecodeError, SensorError
from monitor.sensors.base import (
    STANDARD_GRAVITY,
    DecodedPacket,
    GattLink,
    StreamFormat,
    StreamSettings,
    Timing,
    nearest_rate,
    saturated_rows,
)

NAME = "metamotion"
SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

ACC, GYRO = 0x03, 0x13  # modules
REG_POWER, REG_INTERRUPT_ENABLE, REG_CONFIG = 0x01, 0x02, 0x03
ACC_DATA, ACC_PACKED = 0x04, 0x1C
GYRO_DATA, GYRO_PACKED = 0x05, 0x07
READ = 0x80  # a register read sets bit 7 of the register
SAMPLES_PER_PACKED = 3

# BMI160 output data rate codes (shared by both sensors), with the "normal" filter bits (0x20).
ODR_CODES = {25: 0x26, 50: 0x27, 100: 0x28, 200: 0x29}
SAMPLE_RATES_HZ = tuple(ODR_CODES)
ACC_RANGE_CODES = {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C}
ACC_COUNTS_PER_G = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
GYR_RANGE_CODES = {2000: 0, 1000: 1, 500: 2, 250: 3, 125: 4}
GYR_COUNTS_PER_DPS = {2000: 16.4, 1000: 32.8, 500: 65.6, 250: 131.2, 125: 262.4}


def command(module: int, register: int, *data: int) -> bytes:
    return bytes([module, register, *data])


def encode_config(module: int, rate_hz: int, range_: int) -> bytes:
    """``03 03 odr range`` (±g) or ``13 03 odr range`` (±°/s)."""
    codes = ACC_RANGE_CODES if module == ACC else GYR_RANGE_CODES
    if rate_hz not in ODR_CODES or range_ not in codes:
        raise ValueError(f"MetaMotion cannot sample {rate_hz} Hz at ±{range_}")
    return command(module, REG_CONFIG, ODR_CODES[rate_hz], codes[range_])


def start_commands(rate_hz: int, acc_range_g: int, gyr_range_dps: int) -> list[bytes]:
    """Configure both sensors, subscribe their packed data, enable and start them."""
    return [
        encode_config(ACC, rate_hz, acc_range_g),
        encode_config(GYRO, rate_hz, gyr_range_dps),
        command(ACC, ACC_PACKED, 1),
        command(GYRO, GYRO_PACKED, 1),
        command(ACC, REG_INTERRUPT_ENABLE, 1, 0),
        command(GYRO, REG_INTERRUPT_ENABLE, 1, 0),
        command(ACC, REG_POWER, 1),
        command(GYRO, REG_POWER, 1),
    ]


def stop_commands() -> list[bytes]:
    return [
        command(ACC, REG_POWER, 0),
        command(GYRO, REG_POWER, 0),
        command(ACC, REG_INTERRUPT_ENABLE, 0, 1),
        command(GYRO, REG_INTERRUPT_ENABLE, 0, 1),
        command(ACC, ACC_PACKED, 0),
        command(GYRO, GYRO_PACKED, 0),
    ]


@dataclass(frozen=True, slots=True)
class MetaWearData:
    """One data notification: which sensor, and its int16 counts (n, 3)."""

    module: int
    counts: npt.NDArray[np.int16]


_DATA_REGISTERS = {
    (ACC, ACC_DATA): 1,
    (ACC, ACC_PACKED): SAMPLES_PER_PACKED,
    (GYRO, GYRO_DATA): 1,
    (GYRO, GYRO_PACKED): SAMPLES_PER_PACKED,
}


def decode_data(payload: bytes | bytearray | memoryview) -> MetaWearData | None:
    """A data notification's counts; None for anything that is not sensor data (a register
    answer); DecodeError for sensor data of the wrong length."""
    payload = bytes(payload)
    if len(payload) < 2:
        raise DecodeError(f"MetaWear notification of {len(payload)} bytes")
    samples = _DATA_REGISTERS.get((payload[0], payload[1]))
    if samples is None:
        return None
    if len(payload) != 2 + 6 * samples:
        raise DecodeError(
            f"MetaWear {payload[:2].hex(' ')} data of {len(payload)} bytes,"
            f" expected {2 + 6 * samples}"
        )
    counts = np.frombuffer(payload, dtype="<i2", offset=2).reshape(samples, 3)
    return MetaWearData(payload[0], counts)


class _Decoder:
    """Pairs each accelerometer packet with the gyroscope packet that follows it.

    A packet whose partner never came (dropped or garbled on the way) is let go: its samples
    are a hole the stream measures from the arrival times, as for any lost packet.
    """

    def __init__(self, fmt: StreamFormat) -> None:
        self._acc_scale = STANDARD_GRAVITY / ACC_COUNTS_PER_G[fmt.acc_range_g]
        self._gyr_scale = np.radians(1.0) / GYR_COUNTS_PER_DPS[fmt.gyr_range_dps]
        self._acc: npt.NDArray[np.int16] | None = None

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        try:
            data = decode_data(payload)
        except DecodeError as exc:
            self._acc = None  # whichever half this was, its pair is broken
            return [], [exc]
        if data is None:
            return [], []
        if data.module == ACC:
            self._acc = data.counts  # an earlier one still waiting lost its gyroscope half
            return [], []
        acc, self._acc = self._acc, None
        if acc is None or len(acc) != len(data.counts):
            return [], []  # its accelerometer half was lost
        packet = DecodedPacket(
            acc=acc.astype(np.float64) * self._acc_scale,
            gyr=data.counts.astype(np.float64) * self._gyr_scale,
            saturated=saturated_rows(acc) | saturated_rows(data.counts),
        )
        return [packet], []

    def reset(self) -> None:
        self._acc = None


class MetaMotionProtocol:
    name = NAME
    title = "mbientlab MetaMotion (MetaWear, BMI160)"
    service_uuids: tuple[str, ...] = (SERVICE_UUID,)
    name_prefixes: tuple[str, ...] = ()
    timing = Timing.ARRIVAL
    stamp_modulus = 1
    data_uuid = NOTIFY_UUID

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return 1.0

    def decoder(self, fmt: StreamFormat) -> _Decoder:
        return _Decoder(fmt)

    def samples_in(self, payload: bytes) -> int:
        # Only the gyroscope half completes samples (see _Decoder).
        if len(payload) < 2 or payload[0] != GYRO:
            return 0
        return _DATA_REGISTERS.get((payload[0], payload[1]), 0)

    async def start(self, link: GattLink, wanted: StreamSettings) -> StreamFormat:
        rate = nearest_rate(wanted.rate_hz, SAMPLE_RATES_HZ)
        acc_range = _nearest_range(wanted.acc_range_g, ACC_RANGE_CODES)
        gyr_range = _nearest_range(wanted.gyr_range_dps, GYR_RANGE_CODES)
        await link.subscribe_data(NOTIFY_UUID)
        for request in stop_commands():  # a stream a previous client left running
            await link.write(COMMAND_UUID, request, response=False)
        commands = start_commands(rate, acc_range, gyr_range)
        for request in commands[:2]:
            await link.write(COMMAND_UUID, request, response=False)
        for request in commands[:2]:
            await _verify_config(link, request)
        for request in commands[2:]:
            await link.write(COMMAND_UUID, request, response=False)
        note = ""
        if rate != wanted.rate_hz:
            note = f"{wanted.rate_hz} Hz asked, {rate} Hz used"
            if wanted.rate_hz > max(SAMPLE_RATES_HZ):
                note += f" (the sensor streams {max(SAMPLE_RATES_HZ)} Hz at most over BLE)"
        return StreamFormat(
            rate_hz=rate,
            acc_range_g=acc_range,
            gyr_range_dps=gyr_range,
            samples_per_packet=SAMPLES_PER_PACKED,
            has_gyro=True,
            protocol=NAME,
            note=note,
        )

    async def battery(self, link: GattLink) -> int | None:
        """None: the device reports its level in the standard Battery service, if at all."""
        return None

    async def stop(self, link: GattLink) -> None:
        for request in stop_commands():
            await link.write(COMMAND_UUID, request, response=False)


def _nearest_range(wanted: int, codes: dict[int, int]) -> int:
    """The smallest range that holds ``wanted``, or the largest there is."""
    return min((r for r in codes if r >= wanted), default=max(codes))


async def _verify_config(link: GattLink, written: bytes) -> None:
    """Read a configuration register back; the device must hold what was written."""
    module, register = written[0], written[1] | READ
    answer = await link.request(
        COMMAND_UUID,
        command(module, register),
        answer_uuid=NOTIFY_UUID,
        answers=lambda d: len(d) >= 2 and d[0] == module and d[1] == register,
    )
    if answer[2:4] != written[2:4]:
        what = "accelerometer" if module == ACC else "gyroscope"
        raise SensorError(
            f"MetaMotion {what} kept configuration {answer[2:].hex(' ')},"
            f" not {written[2:].hex(' ')}"
        )


PROTOCOL = MetaMotionProtocol()
