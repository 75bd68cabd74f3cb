"""Sensor-link benchmark: decode throughput, and the BLE client's CPU share at 200 Hz.

    python benchmarks/bench_link.py [--seconds 30] [--rate 200]

Decode: packets of 19 samples (the 247-byte MTU batch) through the decoder alone, and through
the full stream assembler (decode, unwrap, gap check, clock mapping, SI units).
CPU share: a simulated sensor runs in its own process (`tiltmon sim`), the client in this one,
over the virtual radio on loopback, so the figure is the client's alone: bleak, the bumble host
stack beneath it, the transport and the assembler.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np

from firmware_sim import protocol as fw
from monitor.codec import decode_imu_packet
from monitor.live import EventListener, stream_for
from monitor.sensors import StreamFormat
from monitor.stream import StreamAssembler, StreamEvent
from monitor.transport.ble import BleTransport, StreamSettings
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

PER_PACKET = 19


def make_packets(count: int, rate: int = 200) -> list[bytes]:
    rng = np.random.default_rng(0)
    counts = rng.integers(-4000, 4000, size=(count * PER_PACKET, 6)).astype(np.int16)
    return [
        fw.encode_imu_packet(
            k,
            fw.timestamp_us(k * PER_PACKET, rate),
            counts[k * PER_PACKET : (k + 1) * PER_PACKET, :3],
            counts[k * PER_PACKET : (k + 1) * PER_PACKET, 3:],
        )
        for k in range(count)
    ]


def bench_decode(packets: list[bytes]) -> tuple[float, float]:
    samples = len(packets) * PER_PACKET
    start = time.perf_counter()
    for payload in packets:
        decode_imu_packet(payload)
    decode_rate = samples / (time.perf_counter() - start)

    config = StreamFormat(200, 8, 500, True, PER_PACKET, True)
    assembler = StreamAssembler()
    assembler.feed(LinkEvent(0.0, LinkEventKind.CONFIGURED, config=config))
    notes = [
        Notification(1e9 + (k + 1) * PER_PACKET / 200 + 0.01, payload)
        for k, payload in enumerate(packets)
    ]
    start = time.perf_counter()
    for note in notes:
        assembler.feed(note)
    assemble_rate = samples / (time.perf_counter() - start)
    assert assembler.stats.samples == samples
    assert assembler.stats.lost == 0
    return decode_rate, assemble_rate


async def bench_client_cpu(seconds: float, rate: int) -> dict[str, float]:
    sim = await asyncio.create_subprocess_exec(
        # version 1 (open link): the figures stay comparable with earlier runs
        *(sys.executable, "-m", "monitor.cli", "sim", "desk_short", "--open-link"),
        stdout=subprocess.PIPE,
    )
    try:
        assert sim.stdout is not None
        line = (await sim.stdout.readline()).decode()
        match = re.search(r"tcp-client:127\.0\.0\.1:\d+", line)
        if match is None:
            raise RuntimeError(f"simulator did not start: {line!r}")
        started: dict[str, float] = {}

        def on_event(event: StreamEvent | LinkEvent) -> None:
            # Measure from the moment streaming starts: connecting is not the steady cost.
            if isinstance(event, LinkEvent) and event.kind is LinkEventKind.CONFIGURED:
                started.setdefault("cpu", time.process_time())
                started.setdefault("wall", time.perf_counter())

        transport = BleTransport(settings=StreamSettings(rate_hz=rate), radio=match.group(0))
        async with transport:
            live = await stream_for(transport, seconds, listeners=[EventListener(on_event)])
        cpu = time.process_time() - started["cpu"]
        wall = time.perf_counter() - started["wall"]
        summary = live.summary()
        return {
            "cpu_share_percent": 100 * cpu / wall,
            "lost": summary.lost,
            "rate_hz": summary.rate_hz,
            "wall_s": wall,
        }
    finally:
        sim.terminate()
        await sim.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--packets", type=int, default=50_000)
    args = parser.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
    packets = make_packets(args.packets)
    decode_rate, assemble_rate = bench_decode(packets)
    for label, rate in (("decode only", decode_rate), ("decode + assemble", assemble_rate)):
        print(f"{label:22s} {rate / 1e6:6.2f} M samples/s ({1e9 / rate:.0f} ns/sample)")
    result = asyncio.run(bench_client_cpu(args.seconds, args.rate))
    print(
        f"client at {args.rate} Hz:      {result['cpu_share_percent']:5.1f}% of one core"
        f" over {result['wall_s']:.0f} s (delivered {result['rate_hz']} Hz, lost {result['lost']})"
    )


if __name__ == "__main__":
    main()
