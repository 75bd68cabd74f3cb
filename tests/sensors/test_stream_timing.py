"""The protocol-neutral stream: placing samples by sequence number or by arrival time alone."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

from firmware_sim import witmotion as fw
from monitor import sensors
from monitor.errors import DecodeError
from monitor.sensors.base import DecodedPacket, StreamFormat, StreamSettings, Timing
from monitor.stream import GapReason, SampleBatch, StreamAssembler, StreamGap
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

BASE = 1_700_000_000.0
WIT = StreamFormat(50, 16, 2000, protocol="witmotion")


def wit_frame(i: int) -> bytes:
    return fw.encode_frame([i % 30000, 0, 2048], [0, 0, 0], [0, 0, 0])


def acc_index(batches: list[SampleBatch]) -> list[int]:
    counts = np.concatenate([b.acc[:, 0] for b in batches]) / 9.80665 / 16 * 32768
    return np.round(counts).astype(int).tolist()


def feed(
    assembler: StreamAssembler, items: list[Notification | LinkEvent]
) -> tuple[list[SampleBatch], list[object]]:
    batches: list[SampleBatch] = []
    events: list[object] = []
    for item in items:
        batch, new = assembler.feed(item)
        events += new
        if batch is not None:
            batches.append(batch)
    return batches, events


def arrivals(
    count: int, *, rate: float = 50.0, drop: set[int] = frozenset(), seed: int = 1
) -> Iterator[Notification]:
    """One frame per sample, arriving 8 ms plus radio jitter (up to ~6 ms) after it is taken."""
    rng = random.Random(seed)
    for i in range(count):
        if i not in drop:
            at = BASE + i / rate + 0.008 + rng.expovariate(1 / 0.002)
            yield Notification(at, wit_frame(i))


def test_arrival_timing_keeps_every_sample_once_at_the_right_rate() -> None:
    assembler = StreamAssembler()
    items = [LinkEvent(BASE, LinkEventKind.CONFIGURED, config=WIT), *arrivals(3000)]
    batches, events = feed(assembler, items)
    assert events == []
    assert acc_index(batches) == list(range(3000))
    assert assembler.stats.lost == 0 and assembler.stats.duplicates == 0
    host = np.concatenate([b.host_time for b in batches])
    assert np.all(np.diff(host) > 0)
    # Jitter smoothed away: every sample within a few ms of when it was taken (+ best latency).
    truth = BASE + np.arange(3000) / 50 + 0.008
    assert np.max(np.abs(host[100:] - truth[100:])) < 0.004
    assert assembler.rate_estimate_hz == pytest.approx(50.0, rel=1e-3)


def test_arrival_timing_finds_dropped_frames_by_their_lateness() -> None:
    dropped = {100, 101, 102, 500, 900, 901, 902, 903, 904, 905}
    assembler = StreamAssembler()
    items = [LinkEvent(BASE, LinkEventKind.CONFIGURED, config=WIT), *arrivals(1200, drop=dropped)]
    batches, events = feed(assembler, items)
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert all(g.reason is GapReason.DROPPED for g in gaps)
    # Runs of drops are counted exactly; a lone drop (20 ms late) hides inside the jitter
    # allowance until later drops add up, so the total may run short by it.
    assert [g.lost_samples for g in gaps][:1] == [3]
    assert len(dropped) - 1 <= assembler.stats.lost <= len(dropped)
    assert assembler.stats.samples == 1200 - len(dropped)
    assert assembler.stats.duplicates == 0
    # The frame after the long run of drops lands at its own sample number (a late frame waits
    # for the next one, so it may share a batch with it).
    placed = {v: b.first_index + k for b in batches for k, v in enumerate(acc_index([b]))}
    assert abs(placed[906] - 906) <= 1


def test_arrival_timing_counts_a_disconnection_from_the_time_it_took() -> None:
    assembler = StreamAssembler()
    before = list(arrivals(500))
    after = [n for n in arrivals(1000) if n.received_at > BASE + 14.0]  # 4 s down at 50 Hz
    items = [
        LinkEvent(BASE, LinkEventKind.CONFIGURED, config=WIT),
        *before,
        LinkEvent(BASE + 10.1, LinkEventKind.DISCONNECTED),
        LinkEvent(BASE + 13.9, LinkEventKind.CONFIGURED, config=WIT),
        *after,
    ]
    _, events = feed(assembler, items)
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert len(gaps) == 1 and gaps[0].reason is GapReason.DISCONNECTED
    assert gaps[0].lost_samples == pytest.approx(1000 - 500 - len(after), abs=1)
    assert assembler.stats.reconnects == 1


class _CountedProtocol:
    """A protocol stamped with a 16-bit sample counter: the sequence-number timing model."""

    name = "counted"
    title = "test protocol with a sample counter"
    service_uuids: tuple[str, ...] = ()
    name_prefixes: tuple[str, ...] = ()
    timing = Timing.SEQUENCE
    stamp_modulus = 1 << 16
    data_uuid = ""

    def stamp_ticks_per_sample(self, fmt: StreamFormat) -> float:
        return 1.0

    def decoder(self, fmt: StreamFormat) -> _CountedProtocol:
        return self

    def feed(self, payload: bytes) -> tuple[list[DecodedPacket], list[DecodeError]]:
        counter = int.from_bytes(payload[:2], "little")
        n = payload[2]
        acc = np.zeros((n, 3))
        acc[:, 0] = counter + np.arange(n)  # m/s² carrying the sample counter, unwrapped
        return [DecodedPacket(acc, None, np.zeros(n, dtype=bool), stamp=counter)], []

    def reset(self) -> None:
        pass

    def samples_in(self, payload: bytes) -> int:
        return payload[2]

    async def start(self, link: object, wanted: StreamSettings) -> StreamFormat:
        raise NotImplementedError

    async def stop(self, link: object) -> None:
        raise NotImplementedError


def test_sequence_timing_wraps_and_counts_drops_and_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sensors.PROTOCOLS, "counted", _CountedProtocol())  # type: ignore[arg-type]
    fmt = StreamFormat(100, 8, 500, samples_per_packet=10, has_gyro=False, protocol="counted")
    start = 65536 - 50  # wraps after five packets
    items: list[Notification | LinkEvent] = [LinkEvent(BASE, LinkEventKind.CONFIGURED, config=fmt)]
    for k in range(20):
        counter = (start + 10 * k) & 0xFFFF
        note = Notification(
            BASE + (10 * k + 9) / 100 + 0.01, counter.to_bytes(2, "little") + b"\x0a"
        )
        if k not in (7, 8):
            items.append(note)
        if k == 12:
            items.append(note)  # delivered twice
    assembler = StreamAssembler()
    batches, events = feed(assembler, items)
    assert [e.lost_samples for e in events if isinstance(e, StreamGap)] == [20]
    assert assembler.stats.duplicates == 10
    firsts = [b.first_index for b in batches]
    assert firsts == [10 * k for k in range(20) if k not in (7, 8)]


def test_samples_of_one_packet_placed_by_arrival_never_share_a_time() -> None:
    # A MetaMotion packet carries three samples and no stamp; when one arrives before the clock
    # mapping expects its samples, they are held at its arrival time, and still each must come
    # strictly after the one before (the posture machine refuses anything else).
    from firmware_sim import metamotion as mm_fw

    fmt = StreamFormat(100, 8, 500, samples_per_packet=3, protocol="metamotion")
    assembler = StreamAssembler()
    items: list[Notification | LinkEvent] = [LinkEvent(BASE, LinkEventKind.CONFIGURED, config=fmt)]
    rng = random.Random(3)
    counts = np.zeros((3, 3), dtype=np.int16)
    for k in range(400):
        # Mostly on time, now and then a packet rushed through early after a late one.
        at = BASE + (3 * k + 2) / 100 + 0.010 + (0.02 if k % 37 == 5 else 0.0)
        at -= 0.015 if k % 37 == 6 else rng.uniform(0.0, 0.002)
        items.append(Notification(at, mm_fw.encode_data(mm_fw.ACC, counts, packed=True)))
        items.append(Notification(at, mm_fw.encode_data(mm_fw.GYRO, counts, packed=True)))
    batches, _ = feed(assembler, items)
    host = np.concatenate([b.host_time for b in batches])
    assert len(host) == 1200
    assert np.all(np.diff(host) > 0)


def test_a_frame_held_up_with_the_next_ones_is_no_loss() -> None:
    # The computer was busy for 60 ms: three frames arrive late and at once. Nothing was lost
    # (they come right behind each other), so nothing is counted lost and no sample number is
    # skipped; dropped frames, the next one following a period later, still count.
    items: list[Notification | LinkEvent] = [LinkEvent(BASE, LinkEventKind.CONFIGURED, config=WIT)]
    for n in arrivals(1000, drop={700, 701, 702}):
        i = round((n.received_at - BASE - 0.008) * 50)
        if 400 <= i <= 402:
            n = Notification(BASE + 403 / 50 + 0.009 + (i - 400) * 1e-4, n.payload)
        items.append(n)
    assembler = StreamAssembler()
    batches, events = feed(assembler, items)
    assert acc_index(batches) == [i for i in range(1000) if not 700 <= i <= 702]
    placed = {v: b.first_index + k for b in batches for k, v in enumerate(acc_index([b]))}
    assert [placed[i] for i in (399, 400, 401, 402, 403)] == [399, 400, 401, 402, 403]
    gaps = [e for e in events if isinstance(e, StreamGap)]
    assert [(round(g.sensor_time * 50), g.lost_samples) for g in gaps] == [(700, 3)]
