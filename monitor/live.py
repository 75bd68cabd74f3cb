"""Run a transport through the pipeline and account for every sample.

This is the headless core shared by ``tiltmon stream``, ``tiltmon replay --headless`` and the
dashboard's worker: transport items go through :class:`~monitor.pipeline.Pipeline`; the caller gets
each step as it happens, and a summary at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from monitor.pipeline import Pipeline, PipelineStep
from monitor.stream import SampleBatch, StreamAssembler, StreamEvent
from monitor.totals import ActivityTotals
from monitor.transport import Transport
from monitor.transport.items import LinkEvent, LinkEventKind, TransportItem


class StepListener(Protocol):
    """Anything that wants the pipeline's results: called once per step, in stream order."""

    def on_step(self, step: PipelineStep) -> None: ...


def step_events(step: PipelineStep) -> tuple[StreamEvent | LinkEvent, ...]:
    """The link event that caused a step (if it was one) and the stream events it raised."""
    if isinstance(step.item, LinkEvent):
        return (step.item, *step.stream_events)
    return step.stream_events


@dataclass(frozen=True, slots=True)
class EventListener:
    """Adapts a function of link and stream events to a step listener."""

    handle: Callable[[StreamEvent | LinkEvent], None]

    def on_step(self, step: PipelineStep) -> None:
        for event in step_events(step):
            self.handle(event)


@dataclass(slots=True)
class LinkState:
    """What the wearer's screen says about the link."""

    connected: bool = False
    streaming: bool = False
    device_name: str = ""
    address: str = ""
    battery_percent: int | None = None
    rate_hz: int | None = None
    protocol: str = ""
    note: str = ""  # what the sensor could not do as asked ("100 Hz asked, 50 Hz used")
    last_event: str = ""
    adapter_gone: bool = False  # the Bluetooth adapter (or virtual radio) went away
    adapter_losses: int = 0
    adapter_reopens: int = 0


@dataclass(frozen=True, slots=True)
class StreamSummary:
    samples: int
    lost: int
    duplicates: int
    malformed: int
    reconnects: int
    gaps: int
    saturated: int
    overflowed: int
    rate_hz: float  # delivered samples per second of host time, measured
    sensor_seconds: float  # sensor time covered, first to last sample
    drift_ppm: float
    battery_percent: int | None
    device: str
    activity: dict[str, object]  # sitting time, bouts, breaks, zones, nudges
    protocol: str = ""  # the sensor's wire protocol
    configured_rate_hz: int | None = None  # what the sensor was set to stream
    note: str = ""  # what the sensor could not do as asked
    adapter_losses: int = 0  # times the Bluetooth adapter (or virtual radio) went away
    adapter_reopens: int = 0  # ... and came back

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class LiveStream:
    """Feed transport items through the pipeline, keeping link state, totals and rate figures."""

    pipeline: Pipeline = field(default_factory=Pipeline)
    link: LinkState = field(default_factory=LinkState)
    totals: ActivityTotals = field(default_factory=ActivityTotals)
    first_host_time: float | None = None
    last_host_time: float | None = None
    first_sensor_time: float | None = None
    last_sensor_time: float | None = None
    samples_after_first: int = 0

    @property
    def assembler(self) -> StreamAssembler:
        return self.pipeline.assembler

    def feed(self, item: TransportItem) -> PipelineStep:
        step = self.pipeline.feed(item)
        if isinstance(item, LinkEvent):
            self.feed_link_event(item)
        self._account(step)
        return step

    def flush(self) -> PipelineStep | None:
        """The stream ended: what the pipeline still held (see ``Pipeline(coalesce_s=...)``)."""
        step = self.pipeline.flush()
        if step is not None:
            self._account(step)
        return step

    def _account(self, step: PipelineStep) -> None:
        if step.batch is not None:
            self.note_batch(step.batch)
        for snapshot in step.snapshots:
            self.totals.add_snapshot(snapshot)
        for event in step.nudges:
            self.totals.add_nudge_event(event)

    def feed_link_event(self, event: LinkEvent) -> None:
        kind = event.kind
        self.link.last_event = f"{kind.value}: {event.detail}" if event.detail else kind.value
        if kind is LinkEventKind.CONNECTED:
            self.link.connected = True
        elif kind is LinkEventKind.CONFIGURED and event.config is not None:
            self.link.streaming = True
            self.link.rate_hz = event.config.rate_hz
            self.link.protocol = event.config.protocol
            self.link.note = event.config.note
        elif kind in (LinkEventKind.DISCONNECTED, LinkEventKind.RECONNECTING):
            self.link.connected = self.link.streaming = False
        elif kind is LinkEventKind.ADAPTER_LOST:
            self.link.connected = self.link.streaming = False
            self.link.adapter_gone = True
            self.link.adapter_losses += 1
        elif kind is LinkEventKind.ADAPTER_BACK:
            self.link.adapter_gone = False
            self.link.adapter_reopens += 1
        elif kind is LinkEventKind.BATTERY:
            self.link.battery_percent = event.battery_percent
        elif kind is LinkEventKind.DEVICE_INFO and event.device_info is not None:
            self.link.device_name = event.device_info.name
            self.link.address = event.device_info.address

    def note_batch(self, batch: SampleBatch) -> None:
        if self.first_host_time is None:
            self.first_host_time = float(batch.host_time[0])
            self.first_sensor_time = float(batch.sensor_time[0])
            self.samples_after_first = len(batch) - 1
        else:
            self.samples_after_first += len(batch)
        self.last_host_time = float(batch.host_time[-1])
        self.last_sensor_time = float(batch.sensor_time[-1])

    def summary(self, overflowed: int = 0) -> StreamSummary:
        stats = self.assembler.stats
        span = (
            self.last_host_time - self.first_host_time
            if self.first_host_time is not None and self.last_host_time is not None
            else 0.0
        )
        sensor_span = (
            self.last_sensor_time - self.first_sensor_time
            if self.first_sensor_time is not None and self.last_sensor_time is not None
            else 0.0
        )
        return StreamSummary(
            samples=stats.samples,
            lost=stats.lost,
            duplicates=stats.duplicates,
            malformed=stats.malformed,
            reconnects=stats.reconnects,
            gaps=stats.gaps,
            saturated=stats.saturated,
            overflowed=overflowed,
            rate_hz=round(self.samples_after_first / span, 2) if span > 0 else 0.0,
            sensor_seconds=round(sensor_span, 3),
            drift_ppm=round(self.assembler.clock.drift_ppm, 1),
            battery_percent=self.link.battery_percent,
            device=self.link.device_name,
            activity=self.totals.summary(),
            protocol=self.assembler.config.protocol if self.assembler.config else "",
            configured_rate_hz=self.assembler.config.rate_hz if self.assembler.config else None,
            note=self.assembler.config.note if self.assembler.config else "",
            adapter_losses=self.link.adapter_losses,
            adapter_reopens=self.link.adapter_reopens,
        )


def live_pipeline(*, coalesce_s: float = 0.0) -> LiveStream:
    """The pipeline with the wearer's settings (config file) and saved calibrations.

    ``coalesce_s``: see :class:`~monitor.pipeline.Pipeline` (for headless replays only).
    """
    from monitor.config import load_config
    from monitor.nudge import NudgePolicy, system_local_time
    from monitor.pipeline import saved_mounting

    config = load_config()
    return LiveStream(
        pipeline=Pipeline(
            nudges=NudgePolicy(config.nudge, local_time=system_local_time),
            profile_lookup=saved_mounting,
            coalesce_s=coalesce_s,
        )
    )


async def stream_for(
    transport: Transport,
    seconds: float,
    *,
    live: LiveStream | None = None,
    listeners: Sequence[StepListener] = (),
) -> LiveStream:
    """Stream until ``seconds`` have passed since streaming first started (or the end).

    Every pipeline step goes to every listener in turn (``monitor.session.step_events`` gives a
    step's link and stream events). Time spent finding and connecting to the sensor does not
    count. Returns the live state, whose :meth:`LiveStream.summary` accounts for every sample.
    """
    live = live or LiveStream()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(None) as deadline:
            async for item in transport:
                when = deadline.when()
                if when is not None and loop.time() >= when:
                    break  # the deadline's cancellation was swallowed somewhere below us
                step = live.feed(item)
                if (
                    isinstance(item, LinkEvent)
                    and item.kind is LinkEventKind.CONFIGURED
                    and deadline.when() is None
                ):
                    deadline.reschedule(loop.time() + seconds)
                for listener in listeners:
                    listener.on_step(step)
    except TimeoutError:
        if not deadline.expired():
            raise
    last = live.flush()
    if last is not None:
        for listener in listeners:
            listener.on_step(last)
    return live
