"""The clip's sample grid and batching, read by the client's stream assembler."""

from __future__ import annotations

import numpy as np
import pytest
from tiltmon_fw.stream import Streamer, grid_index_at, grid_time_us

from monitor import codec
from monitor.sensors.tiltmon import PROTOCOL
from monitor.stream import StreamAssembler, StreamGap
from monitor.transport.items import LinkEvent, LinkEventKind, Notification


def sample(k: int) -> list[int]:
    """Counts that say which grid sample they are (so order and loss are visible)."""
    return [k % 30000, -(k % 20000), 4096, 1, 2, 3]


def run(streamer: Streamer, read_times_us: list[int]) -> list[bytes]:
    out = []
    for now in read_times_us:
        if streamer.due(now):
            packet = streamer.add(sample(grid_index_at(now, streamer.rate_hz)), now)
            if packet is not None:
                out.append(packet)
    return out


@pytest.mark.parametrize("rate", [25, 50, 100, 200])
def test_grid_samples_are_exactly_one_period_apart(rate: int) -> None:
    for k in range(0, 5000, 7):
        assert grid_time_us(k + 1, rate) - grid_time_us(k, rate) == 1_000_000 // rate
        assert grid_index_at(grid_time_us(k, rate), rate) == k
        assert grid_index_at(grid_time_us(k + 1, rate) - 1, rate) == k


def test_streaming_joins_the_grid_at_the_next_tick() -> None:
    streamer = Streamer(100, 19, True, now_us=1_234_567)
    assert streamer.next_index == 124 and streamer.next_due_us() == 1_240_000
    assert not streamer.due(1_239_999) and streamer.due(1_240_000)
    with pytest.raises(ValueError, match="due"):
        streamer.add(sample(0), 1_239_999)
    assert Streamer(100, 19, True, now_us=1_240_000).next_index == 124


def test_packets_carry_the_first_samples_time_and_count_up() -> None:
    streamer = Streamer(200, 19, True, now_us=0, first_sequence=65534)
    # A loop that reads a little late each time, but never a whole period late.
    times = [grid_time_us(k, 200) + (k * 37) % 4000 for k in range(19 * 4)]
    packets = [codec.decode_imu_packet(p) for p in run(streamer, times)]
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1]
    assert [p.timestamp_us for p in packets] == [0, 95_000, 190_000, 285_000]
    assert [int(p.acc_counts[0, 0]) for p in packets] == [0, 19, 38, 57]
    assert streamer.samples_missed == 0


def test_a_late_loop_loses_samples_without_inventing_any() -> None:
    streamer = Streamer(100, 10, True, now_us=0)
    times = [grid_time_us(k, 100) for k in range(15)]
    times += [grid_time_us(k, 100) for k in range(18, 40)]  # stalled across samples 15..17
    packets = [codec.decode_imu_packet(p) for p in run(streamer, times)]
    assert streamer.samples_missed == 3 and streamer.batches_abandoned == 1
    # Packet 0 holds 0..9; the batch 10..14 is abandoned (its sequence number is skipped);
    # the next batch starts at the first sample read after the stall.
    assert [p.sequence for p in packets] == [0, 2, 3]
    assert [p.timestamp_us for p in packets] == [0, 180_000, 280_000]
    for p in packets:
        first = p.timestamp_us // 10_000
        np.testing.assert_array_equal(p.acc_counts[:, 0], np.arange(first, first + 10))


def feed(
    packets: list[bytes], rate: int, per_packet: int
) -> tuple[int, list[StreamGap], list[float]]:
    assembler = StreamAssembler()
    config = codec.SensorConfig(rate, 8, 500, True, per_packet, True).stream_format()
    assembler.feed(LinkEvent(0.0, LinkEventKind.CONFIGURED, config=config))
    gaps: list[StreamGap] = []
    times: list[float] = []
    samples = 0
    for i, packet in enumerate(packets):
        batch, events = assembler.feed(Notification(1000.0 + i * per_packet / rate, packet))
        gaps += [e for e in events if isinstance(e, StreamGap)]
        if batch is not None:
            samples += len(batch)
            times += list(batch.sensor_time)
    return samples, gaps, times


def test_the_client_reads_across_the_32_bit_clock_wrap_without_a_gap() -> None:
    rate, per_packet = 200, 19
    start = (1 << 32) - 300_000  # 0.3 s before the µs clock wraps on the wire
    streamer = Streamer(rate, per_packet, True, now_us=start)
    first = streamer.next_index
    times = [grid_time_us(k, rate) for k in range(first, first + per_packet * 40)]
    packets = run(streamer, times)
    stamps = [codec.decode_imu_packet(p).timestamp_us for p in packets]
    assert stamps[0] > stamps[-1]  # wrapped on the wire
    samples, gaps, sensor_times = feed(packets, rate, per_packet)
    assert samples == per_packet * 40 and gaps == []
    np.testing.assert_allclose(np.diff(sensor_times), 1 / rate, atol=1e-9)


def test_the_client_sees_exactly_the_samples_a_stall_lost() -> None:
    rate, per_packet = 100, 19
    streamer = Streamer(rate, per_packet, True, now_us=0)
    times = [grid_time_us(k, rate) for k in range(0, 100)]
    times += [grid_time_us(k, rate) for k in range(123, 400)]
    packets = run(streamer, times)
    samples, gaps, _ = feed(packets, rate, per_packet)
    received = sum(codec.decode_imu_packet(p).sample_count for p in packets)
    assert samples == received
    # Read 0..99, stalled over 100..122: five packets hold 0..94, the batch 95..99 is
    # abandoned with its sequence number, and sampling resumes at 123.
    assert streamer.samples_missed == 23 and streamer.batches_abandoned == 1
    assert sum(g.lost_samples for g in gaps) == 5 + 23
    assert samples == 5 * per_packet + (400 - 123) // per_packet * per_packet


def test_the_protocol_module_agrees_on_ticks_per_sample() -> None:
    fmt = codec.SensorConfig(50, 8, 500, True, 19, True).stream_format()
    assert PROTOCOL.stamp_ticks_per_sample(fmt) == grid_time_us(1, 50)
