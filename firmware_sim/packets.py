"""The firmware's packetiser on whole arrays: a simulated recording as the notifications it sends.

The peripheral builds packets one by one on a live link; this does the same for hours of samples
at once, so tests and benchmarks get exact wire bytes without a radio.
"""

from __future__ import annotations

from collections.abc import Iterator

from firmware_sim import protocol as p
from firmware_sim.simulation import SimulatedRecording


def packetize(
    recording: SimulatedRecording, *, per_packet: int = 19, first_sequence: int = 0
) -> Iterator[tuple[float, bytes]]:
    """(sensor time of the packet's last sample in s, payload) for every packet, in order."""
    rate = int(recording.rate_hz)
    if rate != recording.rate_hz or rate not in p.SAMPLE_RATES_HZ:
        raise ValueError(f"the protocol carries {p.SAMPLE_RATES_HZ} Hz, not {recording.rate_hz}")
    n = len(recording.acc_counts) - len(recording.acc_counts) % per_packet
    for k, start in enumerate(range(0, n, per_packet)):
        stop = start + per_packet
        yield (
            (stop - 1) / rate,
            p.encode_imu_packet(
                first_sequence + k,
                p.timestamp_us(start, rate),
                recording.acc_counts[start:stop],
                recording.gyr_counts[start:stop],
            ),
        )
