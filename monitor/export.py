"""Export a replayed session as CSV: decoded samples with angles and posture, and the events.

Two files (docs/reports.md, "Export"): ``OUT.csv``, a row per sample (columns
:data:`SAMPLE_COLUMNS`; ``tiltmon analyze OUT.csv`` reads it back with its default columns), and
``OUT.events.csv``, a row per event (:data:`EVENT_COLUMNS`; ``detail`` is a JSON object). Both are
created readable by the owner only. A :class:`CsvExporter` listens to the pipeline's steps of a
replay, so the figures are today's algorithms' view of the recorded data.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import json
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from monitor.activity import ActivitySnapshot
from monitor.live import step_events
from monitor.nudge import NudgeDismissed, NudgeEvent, NudgeOutcome, NudgeShown, NudgeSnoozed
from monitor.pipeline import PipelineStep
from monitor.private_files import private_output
from monitor.stream import MalformedPacket, StreamEvent, StreamGap
from monitor.transport.items import LinkEvent

FloatArray = npt.NDArray[np.float64]

SAMPLE_COLUMNS = (
    "t",  # host wall clock, s (Unix time)
    "sensor_time",  # the sensor's clock, unwrapped, s since it started
    "ax",
    "ay",
    "az",  # m/s², sensor frame
    "gx",
    "gy",
    "gz",  # rad/s, sensor frame
    "sagittal_deg",  # anterior +
    "frontal_deg",  # right hip down +
    "posture",  # of the one-second frame the sample belongs to
    "zone",
)
EVENT_COLUMNS = ("t", "kind", "detail")


def events_path(out: Path) -> Path:
    """``OUT.csv`` → ``OUT.events.csv`` (the samples file's companion)."""
    stem = out.name[: -len(".csv")] if out.name.endswith(".csv") else out.name
    return out.with_name(f"{stem}.events.csv")


class CsvExporter:
    """Write a replay's samples and events as they come: a step listener.

    Posture comes a frame late (the second must end first), so samples wait until the snapshot
    covering them arrives; :meth:`close` writes the rest (a last partial second: no posture).
    """

    def __init__(self, out: Path) -> None:
        self.samples_path = out
        self.events_path = events_path(out)
        # Both files appear only when the export completes (close); a failure leaves neither.
        self._files = ExitStack()
        self._samples = self._files.enter_context(private_output(out))
        self._events_file = self._files.enter_context(private_output(self.events_path))
        self._events = csv.writer(self._events_file)
        self._samples.write(",".join(SAMPLE_COLUMNS) + "\n")
        self._events.writerow(EVENT_COLUMNS)
        self._pending: list[FloatArray] = []  # rows of 10 numbers, waiting for posture
        self._snaps: list[ActivitySnapshot] = []
        self._event_rows: list[tuple[float, str, str]] = []
        self.sample_rows = 0
        self.event_rows = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._files.__exit__(exc_type, exc, tb)  # discard the half-written files

    # --- the listener -----------------------------------------------------------------------

    def _on_event(self, event: StreamEvent | LinkEvent) -> None:
        if isinstance(event, LinkEvent):
            self._event(event.at, f"link:{event.kind.value}", _fields(event, skip=("at", "kind")))
        elif isinstance(event, StreamGap):
            self._event(event.host_time, "gap", _fields(event, skip=("host_time",)))
        elif isinstance(event, MalformedPacket):
            self._event(event.received_at, "malformed", {"error": event.error})

    def on_step(self, step: PipelineStep) -> None:
        for event in step_events(step):
            self._on_event(event)
        if step.batch is not None and step.tilt is not None:
            b = step.batch
            gyr = b.gyr if b.gyr is not None else np.full_like(b.acc, np.nan)
            self._pending.append(
                np.column_stack(
                    [
                        b.host_time,
                        b.sensor_time,
                        b.acc,
                        gyr,
                        step.tilt.sagittal_deg,
                        step.tilt.frontal_deg,
                    ]
                )
            )
        for transition in step.transitions:
            self._event(transition.t, "transition", {"kind": transition.kind.value})
        for nudge in step.nudges:
            self._nudge(nudge)
        if step.mounting is not None:
            m = step.mounting
            self._event(
                m.t,
                "mounting",
                {"source": m.source.value, "q_PS": [round(float(v), 6) for v in m.q_PS]},
            )
        if step.snapshots:
            self._snaps.extend(step.snapshots)
            self._write_samples(final=False)

    def app_event(self, t: float, kind: str, data: dict[str, Any]) -> None:
        """An event the app recorded live (its nudges, calibration steps): ``recorded:KIND``."""
        self._event(t, f"recorded:{kind}", data)

    def close(self) -> None:
        if self._samples.closed:
            return
        self._write_samples(final=True)
        self._event_rows.sort(key=lambda row: row[0])
        for t, kind, detail in self._event_rows:
            self._events.writerow((f"{t:.4f}", kind, detail))
        self.event_rows = len(self._event_rows)
        self._files.close()

    # --- writing ----------------------------------------------------------------------------

    def _event(self, t: float, kind: str, detail: dict[str, Any]) -> None:
        self._event_rows.append((t, kind, json.dumps(detail, default=_json_default)))

    def _nudge(self, nudge: NudgeEvent) -> None:
        if isinstance(nudge, NudgeShown):
            self._event(
                nudge.t,
                "nudge",
                {
                    "level": nudge.level.value,
                    "reason": nudge.reason,
                    "bout_min": round(nudge.bout_min, 2),
                    "dominant_zone": nudge.dominant_zone.value,
                    "exercise": nudge.suggestion.exercise.name,
                },
            )
        elif isinstance(nudge, NudgeOutcome):
            self._event(
                nudge.t_resolved,
                "nudge_outcome",
                {"t_nudge": nudge.t_nudge, "followed": nudge.followed},
            )
        elif isinstance(nudge, NudgeSnoozed):
            self._event(nudge.t, "nudge_snoozed", {"until": nudge.until, "t_nudge": nudge.t_nudge})
        elif isinstance(nudge, NudgeDismissed):
            self._event(nudge.t, "nudge_dismissed", {"t_nudge": nudge.t_nudge})

    def _write_samples(self, *, final: bool) -> None:
        if not self._pending:
            return
        rows = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        snap_t = np.array([s.t for s in self._snaps])
        # A sample belongs to the first frame ending at or after it (a snapshot's t: frame end).
        covered = len(rows) if final else int(np.searchsorted(rows[:, 0], snap_t[-1], "right"))
        done, rest = rows[:covered], rows[covered:]
        self._pending = [rest] if len(rest) else []
        if not len(done):
            return
        index = np.searchsorted(snap_t, done[:, 0], "left")
        labels = [f"{s.posture.value},{s.zone.value}" for s in self._snaps] + [
            ","
        ]  # past the last frame: not classified yet
        self._samples.write(_format_rows(done, (labels[i] for i in index)))
        self.sample_rows += len(done)
        # Keep the snapshot the next samples may still belong to.
        keep = int(index[-1]) if len(index) else 0
        self._snaps = self._snaps[min(keep, len(self._snaps)) :]


_ROW = "%.4f,%.6f,%.5f,%.5f,%.5f,%.6f,%.6f,%.6f,%.3f,%.3f,"


def _format_rows(rows: FloatArray, labels: Iterable[str]) -> str:
    lines = [
        (_ROW % tuple(row)).replace("nan", "") + label
        for row, label in zip(rows.tolist(), labels, strict=True)
    ]
    return "\n".join(lines) + "\n"


def _fields(obj: Any, *, skip: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name in skip or value is None or value == "" or value is False:
            continue
        is_instance = dataclasses.is_dataclass(value) and not isinstance(value, type)
        out[f.name] = dataclasses.asdict(value) if is_instance else value
    return out


def _json_default(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


async def export_recording(path: Path, out: Path) -> CsvExporter:
    """Replay the recording ``path`` through the pipeline into ``out`` and its events file."""
    from monitor.recording.summary import summarise_replay
    from monitor.transport.replay import ReplayTransport

    async with ReplayTransport(path, speed=None) as transport:
        assert transport.recording is not None
        with CsvExporter(out) as exporter:
            for event in transport.recording.app_events():
                exporter.app_event(event.at, event.kind, event.data)
            await summarise_replay(transport, listeners=[exporter])
    return exporter
