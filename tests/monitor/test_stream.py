"""The stream assembler: gaps, duplicates, wrapping clocks and drift, without any radio."""

from __future__ import annotations

import random

import numpy as np
import pytest

from firmware_sim import protocol as fw
from monitor.sensors.tiltmon import SensorConfig
from monitor.stream import GapReason, MalformedPacket, SampleBatch, StreamAssembler, StreamGap
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

RATE = 200
PER_PACKET = 19
CONFIG = SensorConfig(
    rate_hz=RATE,
    acc_range_g=8,
    gyr_range_dps=500,
    streaming=True,
    samples_per_packet=PER_PACKET,
    has_gyro=True,
)
Item = Notification | LinkEvent


def packet(seq: int, first_index: int, *, start_index: int = 0) -> bytes:
    """A packet whose acc-x counts carry the sample index, so tests can follow every sample."""
    index = np.arange(first_index, first_index + PER_PACKET)
    acc = np.stack([index % 30000, np.zeros_like(index), np.full_like(index, 4096)], axis=1)
    gyr = np.zeros((PER_PACKET, 3), dtype=np.int16)
    return fw.encode_imu_packet(
        seq, fw.timestamp_us(first_index + start_index, RATE), acc.astype(np.int16), gyr
    )


def note(seq: int, first_index: int, *, at_index: int | None = None) -> Notification:
    """The notification for packet ``seq``, received when its last sample is due."""
    at = first_index if at_index is None else at_index
    return Notification(host_time(at), packet(seq, first_index))


def configured(at: float = 0.0) -> LinkEvent:
    return LinkEvent(at, LinkEventKind.CONFIGURED, config=CONFIG.stream_format())


def host_time(index: int, latency: float = 0.004) -> float:
    return 1_700_000_000.0 + (index + PER_PACKET - 1) / RATE + latency


def run(assembler: StreamAssembler, items: list[Item]) -> tuple[list[SampleBatch], list[object]]:
    batches: list[SampleBatch] = []
    events: list[object] = []
    for item in items:
        batch, new_events = assembler.feed(item)
        events.extend(new_events)
        if batch is not None:
            batches.append(batch)
    return batches, events


def acc_index(batches: list[SampleBatch]) -> np.ndarray:
    scale = CONFIG.acc_scale
    return np.round(np.concatenate([b.acc[:, 0] for b in batches]) / scale).astype(int)


def test_contiguous_packets_give_every_sample_once_in_si_units() -> None:
    assembler = StreamAssembler()
    items: list[Item] = [configured()]
    items += [note(k, k * PER_PACKET) for k in range(100)]
    batches, events = run(assembler, items)
    assert events == []
    assert assembler.stats.samples == 1900 and assembler.stats.lost == 0
    np.testing.assert_array_equal(acc_index(batches), np.arange(1900))
    sensor_time = np.concatenate([b.sensor_time for b in batches])
    np.testing.assert_allclose(np.diff(sensor_time), 1 / RATE)
    np.testing.assert_allclose(batches[0].acc[0, 2], 9.80665)
    assert [b.first_index for b in batches[:3]] == [0, 19, 38]


def test_dropped_notifications_are_counted_exactly() -> None:
    assembler = StreamAssembler()
    dropped = {5, 6, 40, 77}
    items: list[Item] = [configured()]
    items += [
        Notification(host_time(k * PER_PACKET), packet(k, k * PER_PACKET))
        for k in range(100)
        if k not in dropped
    ]
    _, events = run(assembler, items)
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert [g.lost_samples for g in gaps] == [2 * PER_PACKET, PER_PACKET, PER_PACKET]
    assert all(g.reason is GapReason.DROPPED for g in gaps)
    assert assembler.stats.lost == len(dropped) * PER_PACKET
    assert assembler.stats.samples + assembler.stats.lost == 1900


def test_duplicates_and_overlaps_are_never_emitted_twice() -> None:
    assembler = StreamAssembler()
    items: list[Item] = [configured()]
    for k in range(20):
        note = Notification(host_time(k * PER_PACKET), packet(k, k * PER_PACKET))
        items.append(note)
        if k % 5 == 0:
            items.append(note)  # the same notification delivered twice
    # A packet that overlaps the previous one by 7 samples (a firmware resend).
    items.append(Notification(host_time(20 * PER_PACKET), packet(20, 20 * PER_PACKET - 7)))
    batches, _ = run(assembler, items)
    indexes = acc_index(batches)
    assert len(indexes) == len(set(indexes.tolist()))
    np.testing.assert_array_equal(indexes, np.arange(20 * PER_PACKET + 12))
    assert assembler.stats.duplicates == 4 * PER_PACKET + 7


def test_timestamp_wraps_without_a_gap() -> None:
    assembler = StreamAssembler()
    start = (1 << 32) // (1_000_000 // RATE) - 5 * PER_PACKET  # five packets before the wrap
    items: list[Item] = [configured()]
    items += [
        Notification(host_time(k * PER_PACKET), packet(k, k * PER_PACKET, start_index=start))
        for k in range(10)
    ]
    batches, events = run(assembler, items)
    assert events == [] and assembler.stats.lost == 0
    sensor_time = np.concatenate([b.sensor_time for b in batches])
    np.testing.assert_allclose(np.diff(sensor_time), 1 / RATE)


def test_disconnect_longer_than_a_wrap_is_placed_by_host_time() -> None:
    assembler = StreamAssembler()
    gap_samples = 80 * 60 * RATE  # 80 minutes: more than the 71.6-minute wrap
    items: list[Item] = [configured()]
    items += [Notification(host_time(k * PER_PACKET), packet(k, k * PER_PACKET)) for k in range(5)]
    items.append(LinkEvent(host_time(5 * PER_PACKET), LinkEventKind.DISCONNECTED))
    items.append(configured(host_time(gap_samples)))
    first = 5 * PER_PACKET + gap_samples
    items += [
        Notification(host_time(first + k * PER_PACKET), packet(5 + k, first + k * PER_PACKET))
        for k in range(3)
    ]
    batches, events = run(assembler, items)
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert len(gaps) == 1
    assert gaps[0].reason is GapReason.DISCONNECTED
    assert gaps[0].lost_samples == gap_samples
    assert batches[-1].first_index == first + 2 * PER_PACKET
    assert assembler.stats.reconnects == 1


def test_a_sensor_reboot_starts_a_new_timeline_with_monotonic_indexes() -> None:
    assembler = StreamAssembler()
    items: list[Item] = [configured()]
    late = 3_000_000  # the sensor had been up for 4 hours
    items += [
        Notification(host_time(k * PER_PACKET), packet(k, late + k * PER_PACKET)) for k in range(5)
    ]
    items += [
        Notification(host_time((5 + k) * PER_PACKET), packet(k, k * PER_PACKET)) for k in range(5)
    ]
    batches, events = run(assembler, items)
    assert [e.reason for e in events if isinstance(e, StreamGap)] == [GapReason.CLOCK_JUMP]
    firsts = [b.first_index for b in batches]
    assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts)


def test_malformed_packets_are_reported_and_the_stream_goes_on() -> None:
    assembler = StreamAssembler()
    items: list[Item] = [
        Notification(0.0, packet(0, 0)),  # before the configuration
        configured(),
        Notification(host_time(0), packet(0, 0)),
        Notification(host_time(0), b"\x01\x01garbage"),
        Notification(host_time(19), packet(1, 19)),
    ]
    batches, events = run(assembler, items)
    assert len([e for e in events if isinstance(e, MalformedPacket)]) == 2
    assert assembler.stats.malformed == 2
    np.testing.assert_array_equal(acc_index(batches), np.arange(38))


@pytest.mark.parametrize("drift_ppm", [-80.0, 0.0, 120.0])
def test_sensor_clock_is_mapped_to_host_time_with_drift(drift_ppm: float) -> None:
    rng = random.Random(4)
    assembler = StreamAssembler()
    items: list[Item] = [configured()]
    packets = 20 * 60 * RATE // PER_PACKET  # 20 minutes
    base = 1_700_000_000.0
    for k in range(packets):
        last_sample = (k * PER_PACKET + PER_PACKET - 1) / RATE
        latency = 0.0075 + rng.expovariate(1 / 0.015)  # connection interval + queueing
        items.append(
            Notification(
                base + last_sample * (1 + drift_ppm * 1e-6) + latency, packet(k, k * PER_PACKET)
            )
        )
    batches, _ = run(assembler, items)
    assert assembler.clock.drift_ppm == pytest.approx(drift_ppm, abs=5.0)
    tail = batches[-1]
    true_host = base + tail.sensor_time * (1 + drift_ppm * 1e-6)
    # Within a few ms of the instant the sample was taken, after the best-case latency.
    assert np.max(np.abs(tail.host_time - true_host - 0.0075)) < 0.004


def test_saturated_samples_are_flagged() -> None:
    acc = np.zeros((PER_PACKET, 3), dtype=np.int16)
    acc[:, 2] = 4096
    gyr = np.zeros((PER_PACKET, 3), dtype=np.int16)
    acc[3, 0] = 32767
    gyr[7, 1] = -32768
    payload = fw.encode_imu_packet(0, 0, acc, gyr)
    assembler = StreamAssembler()
    batches, _ = run(assembler, [configured(), Notification(host_time(0), payload)])
    assert np.flatnonzero(batches[0].saturated).tolist() == [3, 7]
    assert assembler.stats.saturated == 2


def test_host_times_never_step_back_when_the_clock_mapping_is_refitted() -> None:
    rng = random.Random(9)
    assembler = StreamAssembler()
    items: list[Item] = [configured()]
    for k in range(3000):
        latency = 0.004 + rng.expovariate(1 / 0.05)  # heavy jitter: many refits
        items.append(Notification(host_time(k * PER_PACKET, latency), packet(k, k * PER_PACKET)))
    batches, _ = run(assembler, items)
    host = np.concatenate([b.host_time for b in batches])
    assert np.all(np.diff(host) > 0)
