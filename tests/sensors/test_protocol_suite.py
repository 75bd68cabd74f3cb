"""What every wire protocol must do, for each one registered (the contract of monitor.sensors).

Each protocol runs through the real stack (its simulated device, bleak over the virtual radio,
the recorder) and back through a replay of what was recorded; its decoder takes arbitrary bytes
without ever raising.
"""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import numpy as np
import pytest

from firmware_sim import metamotion as metamotion_fw
from firmware_sim import movesense as movesense_fw
from firmware_sim import polar as polar_fw
from firmware_sim import protocol as tiltmon_fw
from firmware_sim import thingy as thingy_fw
from firmware_sim import witmotion as witmotion_fw
from firmware_sim.models import MODELS
from monitor.live import EventListener, stream_for
from monitor.pipeline import PipelineStep
from monitor.recording import RecordingTransport, SessionRecorder
from monitor.sensors import PROTOCOLS, StreamFormat, protocol
from monitor.stream import SampleBatch, StreamAssembler, StreamEvent
from monitor.transport.ble import ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind
from monitor.transport.replay import ReplayTransport
from monitor.transport.sim import SimulatedSensorTransport

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Batches:
    """A step listener keeping every batch of samples."""

    def __init__(self, into: list[SampleBatch]) -> None:
        self.into = into

    def on_step(self, step: PipelineStep) -> None:
        if step.batch is not None:
            self.into.append(step.batch)


def test_every_protocol_has_a_simulated_model_and_every_model_a_protocol() -> None:
    assert sorted(PROTOCOLS) == sorted(m.protocol for m in MODELS.values())


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_protocol_declares_how_to_find_it(name: str) -> None:
    proto = protocol(name)
    assert proto.name == name
    assert proto.service_uuids and all(UUID.fullmatch(u) for u in proto.service_uuids)
    assert UUID.fullmatch(proto.data_uuid)


def valid_payload(name: str, rng: random.Random) -> bytes:
    counts = np.array([[rng.randrange(-3000, 3000) for _ in range(3)] for _ in range(8)])
    if name == "tiltmon":
        data = counts.astype(np.int16)
        return tiltmon_fw.encode_imu_packet(rng.randrange(65536), 0, data, data)
    if name == "witmotion":
        return witmotion_fw.encode_frame(counts[0], counts[1], counts[2])
    if name == "movesense":
        data = counts.astype(np.int16)
        return movesense_fw.encode_imu6(0x63, rng.randrange(1 << 32), data, data)
    if name == "metamotion":
        module = rng.choice([metamotion_fw.ACC, metamotion_fw.GYRO])
        packed = rng.random() < 0.5
        return metamotion_fw.encode_data(module, counts[: 3 if packed else 1], packed=packed)
    if name == "thingy":
        return thingy_fw.encode_raw(counts[0], counts[1], counts[2] / 16)
    return polar_fw.encode_delta_frame(rng.choice([2, 5]), rng.randrange(1 << 60), counts)


def mutated(payload: bytes, rng: random.Random) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randrange(0, 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    cut = rng.randrange(0, len(data) + 1)
    return bytes(data[:cut]) if rng.random() < 0.5 else bytes(data)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_decoder_takes_any_bytes_without_raising(name: str) -> None:
    rng = random.Random(name)
    decoder = protocol(name).decoder(StreamFormat(50, 8, 2000, protocol=name))
    for k in range(3000):
        if k % 3 == 0:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        else:
            payload = mutated(valid_payload(name, rng), rng)
        packets, errors = decoder.feed(payload)
        for packet in packets:
            assert packet.acc.shape == (len(packet), 3) and np.all(np.isfinite(packet.acc))
        for error in errors:
            assert str(error) and "\n" not in str(error)
        protocol(name).samples_in(payload)


async def _live_and_replay(
    model: str, path: Path
) -> tuple[list[SampleBatch], list[SampleBatch], list[LinkEvent], StreamAssembler]:
    live_batches: list[SampleBatch] = []
    seen: list[StreamEvent | LinkEvent] = []
    sim = SimulatedSensorTransport(
        "desk_short",
        seed=8,
        model=model,
        settings=StreamSettings(rate_hz=50),
        policy=ReconnectPolicy(first_delay_s=0.1, scan_timeout_s=3.0),
    )
    recorder = SessionRecorder(path, transport=f"sim:desk_short ({model})")
    async with RecordingTransport(sim, recorder) as transport:
        async with asyncio.timeout(60):
            live = await stream_for(
                transport,
                4.0,
                listeners=[Batches(live_batches), EventListener(seen.append)],
            )
    events = [e for e in seen if isinstance(e, LinkEvent)]
    replayed: list[SampleBatch] = []
    async with ReplayTransport(path, speed=None) as replay:
        await stream_for(replay, float("inf"), listeners=[Batches(replayed)])
    return live_batches, replayed, events, live.assembler


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(MODELS))
async def test_a_model_streams_through_bleak_and_replays_to_the_same_samples(
    model: str, tmp_path: Path
) -> None:
    live, replayed, events, assembler = await _live_and_replay(model, tmp_path / "s.tiltmon")
    configured = [e for e in events if e.kind is LinkEventKind.CONFIGURED]
    assert configured and configured[0].config is not None
    fmt = configured[0].config
    assert fmt.protocol == MODELS[model].protocol and fmt.rate_hz in MODELS[model].rates_hz
    stats = assembler.stats
    assert stats.samples >= 3.5 * fmt.rate_hz
    assert stats.duplicates == stats.malformed == stats.lost == 0
    host = np.concatenate([b.host_time for b in live])
    assert np.all(np.diff(host) > 0)
    index = np.concatenate([b.first_index + np.arange(len(b)) for b in live])
    np.testing.assert_array_equal(index, np.arange(index[0], index[0] + len(index)))
    # The recording holds the raw payloads and the protocol: a replay decodes them again.
    # (It may hold one packet more: the one that arrived as the live run hit its deadline.)
    n = stats.samples
    assert n <= sum(len(b) for b in replayed) <= n + 40

    def joined(batches: list[SampleBatch], field: str) -> np.ndarray:
        return np.concatenate([getattr(b, field) for b in batches])[:n]

    for field in ("acc", "gyr", "host_time", "sensor_time"):
        np.testing.assert_array_equal(joined(replayed, field), joined(live, field))
