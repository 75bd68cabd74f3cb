"""The clock mapping's drift estimate holds under reconnects, late packets and offset jumps.

Pure: (sensor time, host time) pairs as a stream would feed them, with a known drift. The
end-to-end check through the CLI is in tests/test_clock_drift_e2e.py.
"""

from __future__ import annotations

import random

import pytest

from monitor.clock import SensorClockMapper

PACKET_S = 0.19  # a 19-sample packet at 100 Hz


def latency(rng: random.Random) -> float:
    return 0.0075 + rng.expovariate(1 / 0.015)  # connection interval + queueing


@pytest.mark.parametrize("drift_ppm", [-45.0, 30.0])
def test_a_link_that_drops_every_second_keeps_the_drift(drift_ppm: float) -> None:
    # A stamped sensor clock runs on while the link is down: ~1 s connected, ~0.6 s down.
    rng = random.Random(1)
    mapper = SensorClockMapper()
    t = 0.0
    while t < 600:
        up_until = t + rng.uniform(0.6, 1.2)
        first = True
        while t < up_until:
            # The first packets of a connection wait behind its set-up traffic.
            setup = rng.uniform(0.02, 0.08) if first else 0.0
            mapper.observe(t, 1e9 + t * (1 + drift_ppm * 1e-6) + latency(rng) + setup)
            first = False
            t += PACKET_S
        t += rng.uniform(0.3, 0.9)
    assert mapper.drift_ppm == pytest.approx(drift_ppm, abs=3.0)


def test_sparse_late_packets_do_not_pass_for_drift() -> None:
    # A frame every ~1.3 s (a Polar sensor on a choppy link), a third of them held up by tens
    # of ms: the windows whose only packet is late must not tilt the line.
    rng = random.Random(2)
    mapper = SensorClockMapper()
    t = 0.0
    while t < 900:
        late = rng.uniform(0.02, 0.07) if rng.random() < 0.33 else 0.0
        mapper.observe(t, 5e8 + t * (1 - 30e-6) + latency(rng) * 0.2 + late)
        t += rng.uniform(0.5, 2.0)
    assert mapper.drift_ppm == pytest.approx(-30.0, abs=5.0)


def arrival_segments(
    mapper: SensorClockMapper, *, segment_s: float, seconds: float, seed: int, split: bool
) -> None:
    """Counted samples (no sensor clock): after each link loss, the count resumes off by an
    unknown few samples, as an inference from arrival times is."""
    rng = random.Random(seed)
    t_true = 0.0
    count_error = 0.0
    while t_true < seconds:
        if split:
            mapper.new_segment()
        end = t_true + segment_s
        while t_true < end:
            # The sensor-time stamp is the sample count: true time plus the inference error.
            mapper.observe(t_true + count_error, 2e9 + t_true * (1 + 25e-6) + latency(rng))
            t_true += 0.02
        t_true += rng.uniform(0.5, 2.0)
        count_error += rng.choice([-0.04, -0.02, 0.0, 0.02, 0.04, 0.06])  # biased, as it is


def test_counted_samples_fit_the_drift_within_connections_only() -> None:
    mapper = SensorClockMapper(max_drift_ppm=1000.0)
    arrival_segments(mapper, segment_s=40, seconds=900, seed=3, split=True)
    assert mapper.drift_ppm == pytest.approx(25.0, abs=4.0)
    # Fitted across the joins, the same pairs give the inference's error as drift.
    across = SensorClockMapper(max_drift_ppm=1000.0)
    arrival_segments(across, segment_s=40, seconds=900, seed=3, split=False)
    assert abs(across.drift_ppm - 25.0) > 100


def test_connections_too_short_to_measure_report_about_nominal_not_noise() -> None:
    mapper = SensorClockMapper(max_drift_ppm=1000.0)
    arrival_segments(mapper, segment_s=1.0, seconds=300, seed=4, split=True)
    # Within 1 s a 25 ppm drift is 25 µs, far below the radio's jitter: no figure in the
    # hundreds, and nothing worse than not correcting at all.
    assert abs(mapper.drift_ppm) < 25.0 + 15.0


def test_the_offset_stays_one_line_across_segments() -> None:
    # Segments split the drift fit only: a count that came out long after a join must be
    # pulled back by the next inference, so the line does not follow it.
    mapper = SensorClockMapper()
    for k in range(200):
        mapper.observe(k * 0.1, 100.0 + k * 0.1)
    mapper.new_segment()
    for k in range(200, 400):
        mapper.observe(k * 0.1 + 0.04, 100.0 + k * 0.1)  # two samples counted too many
    assert float(mapper.to_host(40.0)) == pytest.approx(140.0, abs=0.025)  # type: ignore[arg-type]
    assert mapper.drift_ppm == pytest.approx(0.0, abs=1.0)
