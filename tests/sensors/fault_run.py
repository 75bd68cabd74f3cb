"""Ten seconds of a simulated model through bleak with drops and disconnects injected."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from firmware_sim.peripheral import Faults, SimulatedDevice
from monitor.live import EventListener, StreamSummary, stream_for
from monitor.stream import GapReason, StreamEvent, StreamGap
from monitor.transport.ble import ReconnectPolicy, StreamSettings
from monitor.transport.items import LinkEvent
from monitor.transport.sim import SimulatedSensorTransport


@dataclass(frozen=True)
class FaultRun:
    sensor: SimulatedDevice
    summary: StreamSummary
    events: list[StreamEvent | LinkEvent]

    def assert_nothing_lost_that_arrived(self, in_flight: int) -> None:
        """Faults happened, the link came back, and every sample sent arrived once, but for
        ``in_flight`` ones still on their way as the run ended."""
        assert self.sensor.counters.packets_dropped > 0 and self.summary.reconnects >= 2
        assert self.sensor.counters.samples_sent - self.summary.samples <= in_flight
        assert self.summary.duplicates == 0 and self.summary.malformed == 0
        gaps = [e for e in self.events if isinstance(e, StreamGap)]
        assert any(g.reason is GapReason.DISCONNECTED for g in gaps)


async def fault_run(model: str, seed: int, rate_hz: int) -> FaultRun:
    events: list[StreamEvent | LinkEvent] = []
    transport = SimulatedSensorTransport(
        "desk_short",
        seed=seed,
        model=model,
        faults=Faults(drop_fraction=0.02, disconnect_every_s=4.0),
        settings=StreamSettings(rate_hz=rate_hz),
        policy=ReconnectPolicy(first_delay_s=0.1, max_delay_s=1.0, scan_timeout_s=3.0),
    )
    async with transport:
        async with asyncio.timeout(60):
            live = await stream_for(transport, 10.0, listeners=[EventListener(events.append)])
    assert transport.peripheral is not None
    return FaultRun(transport.peripheral, live.summary(), events)
