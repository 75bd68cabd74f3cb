"""What a recorded session contained: the headless core of ``tiltmon replay``.

:func:`summarise_replay` runs a replay through the same pipeline as a live stream
(:func:`monitor.live.stream_for`) and returns a :class:`ReplaySummary`. Posture and nudge figures
come from the same live totals; callers add their own step listeners (an exporter, a timeline).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from monitor.live import LiveStream, StepListener, live_pipeline, step_events, stream_for
from monitor.pipeline import MountingSource, Pipeline, PipelineStep
from monitor.recording.reader import Recording
from monitor.stream import StreamGap
from monitor.transport.items import LinkEvent
from monitor.transport.replay import ReplayTransport

# Headless replays run tilt and posture on runs of this much data at once (same results, and
# several times faster than packet by packet: docs/reports.md, "Figures").
REPLAY_COALESCE_S = 30.0


def recorded_mountings(recording: Recording) -> list[tuple[float, np.ndarray]] | None:
    """The calibrations the session used, with the times it switched to them (its "mounting"
    events whose source is a profile); None for a recording that kept no mounting events
    (older files), which is then replayed with the saved profiles."""
    events = [e for e in recording.app_events() if e.kind == "mounting"]
    if not events:
        return None
    found = []
    for event in events:
        if event.data.get("source") != MountingSource.PROFILE.value:
            continue  # found from the data: the replay finds it again, as the session did
        q = np.asarray(event.data.get("q_PS", ()), dtype=np.float64)
        if q.shape != (4,) or not np.all(np.isfinite(q)) or abs(np.linalg.norm(q) - 1) > 1e-3:
            recording.progress.skipped_events += 1  # damaged: said in the replay's notices
            continue
        found.append((event.at, q))
    return found


def follow_the_recording(pipeline: Pipeline, recording: Recording) -> None:
    """Replay with the calibrations the session used rather than today's saved ones."""
    mountings = recorded_mountings(recording)
    if mountings is not None:
        pipeline.follow_recorded_mountings(mountings)


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    file: str
    started_at: float  # host wall clock, s
    ended_at: float | None  # None: the recording has no end marker
    complete: bool
    duration_s: float  # session start to its last known moment
    transport: str  # the moniker it was recorded from
    device: str
    rate_hz: int | None  # configured sample rate
    samples: int
    lost: int
    gaps: int
    duplicates: int
    malformed: int
    reconnects: int
    saturated: int
    sensor_seconds: float
    drift_ppm: float
    gaps_by_reason: dict[str, int]
    link_events: dict[str, int]
    app_events: dict[str, int]
    calibrations: int
    notices: list[str]
    activity: dict[str, object]  # sitting time, bouts, breaks, zones, nudges (re-computed)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


async def summarise_replay(
    transport: ReplayTransport,
    *,
    listeners: Sequence[StepListener] = (),
    live: LiveStream | None = None,
) -> ReplaySummary:
    """Play ``transport`` (entered already) to its end through the pipeline."""
    recording = transport.recording
    if recording is None:
        raise RuntimeError("use `async with` on the replay transport first")
    link_events: Counter[str] = Counter()
    gaps: Counter[str] = Counter()

    class _Count:
        def on_step(self, step: PipelineStep) -> None:
            for event in step_events(step):
                if isinstance(event, LinkEvent):
                    link_events[event.kind.value] += 1
                elif isinstance(event, StreamGap):
                    gaps[event.reason.value] += 1

    live = live or live_pipeline(coalesce_s=REPLAY_COALESCE_S)
    follow_the_recording(live.pipeline, recording)
    live = await stream_for(transport, math.inf, live=live, listeners=[_Count(), *listeners])
    stream = live.summary()
    info = recording.info
    config = live.assembler.config or info.config
    device = info.device.name if info.device is not None else stream.device
    return ReplaySummary(
        file=str(info.path),
        started_at=info.started_at,
        ended_at=info.ended_at,
        complete=info.complete,
        duration_s=round(info.duration_s, 3),
        transport=info.transport,
        device=device,
        rate_hz=config.rate_hz if config is not None else None,
        samples=stream.samples,
        lost=stream.lost,
        gaps=stream.gaps,
        duplicates=stream.duplicates,
        malformed=stream.malformed,
        reconnects=stream.reconnects,
        saturated=stream.saturated,
        sensor_seconds=stream.sensor_seconds,
        drift_ppm=stream.drift_ppm,
        gaps_by_reason=dict(gaps),
        link_events=dict(link_events),
        app_events=dict(Counter(e.kind for e in recording.app_events())),
        calibrations=len(recording.calibrations()),
        notices=transport.notices,
        activity=stream.activity,
    )
