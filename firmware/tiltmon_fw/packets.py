"""The bytes the clip sends: IMU data notifications, the configuration, control-point answers.

Samples travel as a flat sequence of int16 counts, six per sample (ax ay az gx gy gz) or three
without a gyroscope, already in the protocol's scale (``tiltmon_fw.scaling``).
"""

import struct

from tiltmon_fw import profile as p

TYPE_CHECKING = False  # CircuitPython has no typing module; mypy reads this as typing's
if TYPE_CHECKING:
    from tiltmon_fw.control import Settings

_HEADER = "<BBHIB"
_CONFIG = "<BBHBHBB"
_RESPONSE = "<BBB"


def samples_per_packet(att_mtu: int, has_gyro: bool = True) -> int:
    """How many samples fill one notification at this ATT MTU (at least one, at most 255)."""
    size = p.SAMPLE_SIZE if has_gyro else p.ACC_ONLY_SAMPLE_SIZE
    room = att_mtu - p.ATT_HEADER_SIZE - p.IMU_HEADER_SIZE
    return max(1, min(p.MAX_SAMPLES_PER_PACKET, room // size))


def _saturated(counts: "list[int]", first: int, stride: int, width: int) -> bool:
    """True if any of the ``width`` axes starting at ``first`` of each sample sits at a bound."""
    for start in range(first, len(counts), stride):
        for value in counts[start : start + width]:
            if value >= p.INT16_MAX or value <= p.INT16_MIN:
                return True
    return False


def encode_imu_packet(
    sequence: int, timestamp_us: int, counts: "list[int]", has_gyro: bool = True
) -> bytes:
    """One notification: header (sequence and first-sample timestamp wrapped) and samples."""
    stride = 6 if has_gyro else 3
    if len(counts) % stride:
        raise ValueError("%d counts do not make whole %d-axis samples" % (len(counts), stride))
    n = len(counts) // stride
    if not 1 <= n <= p.MAX_SAMPLES_PER_PACKET:
        raise ValueError("a packet holds 1 to %d samples, not %d" % (p.MAX_SAMPLES_PER_PACKET, n))
    flags = 0
    if _saturated(counts, 0, stride, 3):
        flags |= p.FLAG_ACC_SATURATED
    if has_gyro:
        flags |= p.FLAG_GYRO_PRESENT
        if _saturated(counts, 3, stride, 3):
            flags |= p.FLAG_GYRO_SATURATED
    packet = bytearray(p.IMU_HEADER_SIZE + 2 * len(counts))
    struct.pack_into(
        _HEADER,
        packet,
        0,
        p.PROTOCOL_VERSION,
        flags,
        sequence & 0xFFFF,
        timestamp_us & 0xFFFFFFFF,
        n,
    )
    struct.pack_into("<%dh" % len(counts), packet, p.IMU_HEADER_SIZE, *counts)
    return bytes(packet)


def encode_config(settings: "Settings") -> bytes:
    """The configuration characteristic's value for a ``tiltmon_fw.control.Settings``."""
    sensors = p.SENSOR_ACC | (p.SENSOR_GYRO if settings.has_gyro else 0)
    return struct.pack(
        _CONFIG,
        p.PROTOCOL_VERSION,
        p.STATE_STREAMING if settings.streaming else p.STATE_IDLE,
        settings.rate_hz,
        settings.acc_range_g,
        settings.gyr_range_dps,
        settings.samples_per_packet,
        sensors,
    )


def encode_control_response(opcode: int, status: int) -> bytes:
    return struct.pack(_RESPONSE, p.RESPONSE_CODE, opcode & 0xFF, status)
