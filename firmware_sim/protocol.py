"""The firmware's side of docs/protocol.md: UUIDs, packet layouts and the encoder.

Real firmware is another codebase, so this module shares nothing with ``monitor``: the protocol
document is the contract, and ``tests/test_protocol_contract.py`` checks both sides against its
byte-exact examples.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PROTOCOL_VERSION = 1

IMU_SERVICE_UUID = "8a3c0001-6b1e-4f2a-9d5c-2e7b41f0a6d3"
IMU_DATA_UUID = "8a3c0002-6b1e-4f2a-9d5c-2e7b41f0a6d3"
CONFIG_UUID = "8a3c0003-6b1e-4f2a-9d5c-2e7b41f0a6d3"
CONTROL_POINT_UUID = "8a3c0004-6b1e-4f2a-9d5c-2e7b41f0a6d3"
# Version 2 (private link): readable without encryption, tells a client what the sensor asks.
SECURITY_UUID = "8a3c0005-6b1e-4f2a-9d5c-2e7b41f0a6d3"

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
SERIAL_NUMBER_UUID = "00002a25-0000-1000-8000-00805f9b34fb"
HARDWARE_REVISION_UUID = "00002a27-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID = "00002a26-0000-1000-8000-00805f9b34fb"

# version, flags, sequence, timestamp of the first sample (µs, sensor clock), sample count
IMU_HEADER = struct.Struct("<BBHIB")
SAMPLE_SIZE = 12  # ax ay az gx gy gz, int16 little-endian
ACC_ONLY_SAMPLE_SIZE = 6
FLAG_GYRO_PRESENT = 0x01
FLAG_ACC_SATURATED = 0x02
FLAG_GYRO_SATURATED = 0x04

# version, state, rate_hz, acc_range_g, gyr_range_dps, samples_per_packet, sensors
CONFIG = struct.Struct("<BBHBHBB")
STATE_IDLE = 0
STATE_STREAMING = 1
SENSOR_ACC = 0x01
SENSOR_GYRO = 0x02

# profile version, flags, bonds held, bonds kept at most
SECURITY = struct.Struct("<BBBB")
PROFILE_VERSION_PRIVATE = 2
SECURITY_ENCRYPTION_REQUIRED = 0x01
SECURITY_PAIRING_WINDOW_OPEN = 0x02
SECURITY_LINK_BONDED = 0x04
SECURITY_PASSKEY = 0x08  # pairing asks for the passkey on the sensor's label (passkey entry)

CONTROL_RESPONSE = struct.Struct("<BBB")
RESPONSE_CODE = 0x80
SET_RATE_PARAMS = struct.Struct("<H")
SET_RANGES_PARAMS = struct.Struct("<BH")

SAMPLE_RATES_HZ = (25, 50, 100, 200)
ACC_RANGES_G = (2, 4, 8, 16)
GYR_RANGES_DPS = (125, 250, 500, 1000, 2000)
MAX_SAMPLES_PER_PACKET = 255
ATT_HEADER_SIZE = 3  # opcode + handle of a Handle Value Notification


class Opcode(enum.IntEnum):
    START_STREAMING = 0x01
    STOP_STREAMING = 0x02
    SET_RATE = 0x03
    SET_RANGES = 0x04


class Status(enum.IntEnum):
    SUCCESS = 0x00
    OPCODE_NOT_SUPPORTED = 0x01
    INVALID_PARAMETER = 0x02
    INVALID_STATE = 0x03
    MALFORMED = 0x04


@dataclass(frozen=True, slots=True)
class SensorConfig:
    rate_hz: int = 100
    acc_range_g: int = 8
    gyr_range_dps: int = 500
    streaming: bool = False
    samples_per_packet: int = 19
    has_gyro: bool = True


def samples_per_packet(att_mtu: int, *, has_gyro: bool = True) -> int:
    """How many samples fill one notification at this ATT MTU."""
    size = SAMPLE_SIZE if has_gyro else ACC_ONLY_SAMPLE_SIZE
    room = att_mtu - ATT_HEADER_SIZE - IMU_HEADER.size
    return max(1, min(MAX_SAMPLES_PER_PACKET, room // size))


def timestamp_us(sample_index: int, rate_hz: int) -> int:
    """Sensor-clock timestamp of a sample, wrapped to 32 bits as on the wire."""
    return (sample_index * 1_000_000 // rate_hz) & 0xFFFFFFFF


def encode_imu_packet(
    sequence: int,
    first_timestamp_us: int,
    acc_counts: npt.NDArray[np.int16],
    gyr_counts: npt.NDArray[np.int16] | None,
) -> bytes:
    n = len(acc_counts)
    if not 1 <= n <= MAX_SAMPLES_PER_PACKET:
        raise ValueError(f"a packet holds 1 to {MAX_SAMPLES_PER_PACKET} samples, not {n}")
    flags = 0
    if np.any(acc_counts == 32767) or np.any(acc_counts == -32768):
        flags |= FLAG_ACC_SATURATED
    if gyr_counts is None:
        body = np.ascontiguousarray(acc_counts, dtype="<i2")
    else:
        flags |= FLAG_GYRO_PRESENT
        if np.any(gyr_counts == 32767) or np.any(gyr_counts == -32768):
            flags |= FLAG_GYRO_SATURATED
        body = np.ascontiguousarray(np.hstack([acc_counts, gyr_counts]), dtype="<i2")
    header = IMU_HEADER.pack(
        PROTOCOL_VERSION, flags, sequence & 0xFFFF, first_timestamp_us & 0xFFFFFFFF, n
    )
    return header + body.tobytes()


def encode_config(config: SensorConfig) -> bytes:
    sensors = SENSOR_ACC | (SENSOR_GYRO if config.has_gyro else 0)
    return CONFIG.pack(
        PROTOCOL_VERSION,
        STATE_STREAMING if config.streaming else STATE_IDLE,
        config.rate_hz,
        config.acc_range_g,
        config.gyr_range_dps,
        config.samples_per_packet,
        sensors,
    )


def encode_control_response(opcode: int, status: Status) -> bytes:
    return CONTROL_RESPONSE.pack(RESPONSE_CODE, opcode & 0xFF, status)


def encode_security(
    *, window_open: bool, link_bonded: bool, bonds: int, max_bonds: int, passkey: bool = False
) -> bytes:
    flags = SECURITY_ENCRYPTION_REQUIRED
    flags |= SECURITY_PASSKEY if passkey else 0
    flags |= SECURITY_PAIRING_WINDOW_OPEN if window_open else 0
    flags |= SECURITY_LINK_BONDED if link_bonded else 0
    return SECURITY.pack(PROFILE_VERSION_PRIVATE, flags, bonds, max_bonds)
