"""Many recordings at once: each analysed as one task, on a local process pool or on Dask.

A research group analyses hundreds of participant-days. Each recording stays one task (fusion,
the mounting and the posture state carry across the whole recording), and tasks spread over
workers: ``jobs`` local processes, or a Dask distributed scheduler (``pip install tiltmon[dask]``).
Each task writes the recording's per-second output and returns its summary rows, one per
calendar day; :func:`write_summary` puts them in one ``summary.csv``. A task whose input and
settings have not changed since the last run (content hash) is skipped and its rows read back.
"""

from __future__ import annotations

import csv
import datetime as dt
import glob
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from monitor import __version__
from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.analysis_file import FileAnalysis, ReadOptions, analyse_csv, write_analysis
from monitor.errors import MonitorError
from monitor.nudge import NudgeShown
from monitor.private_files import private_output
from monitor.totals import MAX_STEP_S, ActivityTotals

INPUT_SUFFIXES = (".csv", ".tiltmon")  # CSV from any device, or tiltmon's own sessions
SUMMARY_COLUMNS = (
    "recording",
    "date",
    "wear_min",
    "non_wear_min",
    "sitting_min",
    "standing_min",
    "walking_min",
    "lying_min",
    "bouts",
    "bouts_over_30_min",
    "bouts_over_60_min",
    "breaks",
    *(f"zone_{z.value}_min" for z in TiltZone),
    "nudges",
    "no_data_min",
    "gaps",
    "status",
)


class StudyError(MonitorError, ValueError):
    """The inputs of a study cannot be used as given."""


@dataclass(frozen=True, slots=True)
class Task:
    source: Path
    out_dir: Path
    options: ReadOptions  # the same for every input, as one command line states it

    @property
    def name(self) -> str:
        return self.source.stem

    @property
    def output(self) -> Path:
        return self.out_dir / f"{self.name}.seconds.csv"

    @property
    def done_marker(self) -> Path:
        return self.out_dir / f".{self.name}.done.json"


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: Task
    rows: list[dict[str, object]] = field(default_factory=list)
    skipped: bool = False  # unchanged since the last run: rows read back
    error: str | None = None  # one line: why this recording could not be analysed


def expand_inputs(specs: Sequence[str]) -> list[Path]:
    """Files, folders (searched recursively) and glob patterns, in a stable order, once each."""
    found: dict[Path, None] = {}
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.suffix.lower() in INPUT_SUFFIXES)
        elif path.exists():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(spec, recursive=True))
            matches = [p for p in matches if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES]
            if not matches:
                raise StudyError(f"{spec}: no such file, folder, or matching CSV or session")
        for match in matches:
            found.setdefault(match.resolve(), None)
    if not found:
        raise StudyError("no recordings to analyse in " + ", ".join(specs))
    names: dict[str, Path] = {}
    for path in found:
        if path.stem in names:
            raise StudyError(
                f"two recordings named {path.stem!r} ({names[path.stem]} and {path}):"
                " their outputs would collide in --out-dir"
            )
        names[path.stem] = path
    return list(found)


def content_key(task: Task) -> str:
    """What a result depends on: the input's bytes, the reading options, the code's version."""
    digest = hashlib.sha256()
    with task.source.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps(asdict(task.options), sort_keys=True).encode())
    digest.update(__version__.encode())
    return digest.hexdigest()


def run_task(task: Task) -> TaskResult:
    """Analyse one recording (in a worker): per-second CSV out, summary rows back."""
    key = content_key(task)
    previous = _read_marker(task.done_marker)
    if previous is not None and previous.get("key") == key and task.output.exists():
        return TaskResult(task, list(previous["rows"]), skipped=True)
    try:
        analysed = _analyse_source(task)
        write_analysis(task.output, analysed.analysis, analysed.offset, gaps=analysed.gaps)
    except (MonitorError, OSError) as exc:
        return TaskResult(task, [_failed_row(task, str(exc))], error=str(exc))
    rows = summary_rows(task.name, analysed.analysis.snapshots, analysed.analysis.nudges)
    _write_marker(task.done_marker, {"key": key, "rows": rows})
    return TaskResult(task, rows)


def _analyse_source(task: Task) -> FileAnalysis:
    """A CSV as the options say; a tiltmon session through its own export (SI units, Unix time),
    which is removed again afterwards."""
    if task.source.suffix.lower() != ".tiltmon":
        return analyse_csv(task.source, task.options)
    import asyncio

    from monitor.export import events_path, export_recording

    samples = task.out_dir / f".{task.name}.samples.csv"
    try:
        asyncio.run(export_recording(task.source, samples))
        return analyse_csv(samples, ReadOptions())
    finally:
        samples.unlink(missing_ok=True)
        events_path(samples).unlink(missing_ok=True)


def summary_rows(
    name: str, snapshots: Sequence[ActivitySnapshot], nudges: Iterable[object]
) -> list[dict[str, object]]:
    """One row per local calendar day of a recording's snapshots (times are Unix time)."""
    days: dict[dt.date, list[ActivitySnapshot]] = {}
    for snap in snapshots:
        days.setdefault(_local_date(snap.t), []).append(snap)
    shown_by_day: dict[dt.date, int] = {}
    for event in nudges:
        if isinstance(event, NudgeShown):
            day = _local_date(event.t)
            shown_by_day[day] = shown_by_day.get(day, 0) + 1
    rows = []
    for day, snaps in sorted(days.items()):
        totals = ActivityTotals()
        gaps = 0
        no_data = 0.0
        last: float | None = None
        for snap in snaps:
            totals.add_snapshot(snap)
            if last is not None and snap.t - last > MAX_STEP_S:
                gaps += 1
                no_data += snap.t - last
            if snap.posture is Posture.UNKNOWN:
                no_data += 1.0
            last = snap.t
        totals.end_stream()
        figures = totals.summary()
        zone_min: dict[str, float] = figures["zone_min"]  # type: ignore[assignment]
        # worn: a posture was known; not worn: the sensor lay still off the body (nonwear)
        off = totals.seconds_by_posture[Posture.NON_WEAR]
        wear = sum(
            s
            for p, s in totals.seconds_by_posture.items()
            if p not in (Posture.UNKNOWN, Posture.NON_WEAR)
        )
        row: dict[str, object] = {
            "recording": name,
            "date": day.isoformat(),
            "wear_min": round(wear / 60, 1),
            "non_wear_min": round(off / 60, 1),
            **{k: figures[k] for k in ("sitting_min", "standing_min", "walking_min")},
            "lying_min": figures["lying_min"],
            "bouts": figures["bouts"],
            "bouts_over_30_min": figures["bouts_over_30_min"],
            "bouts_over_60_min": figures["bouts_over_60_min"],
            "breaks": figures["breaks"],
            **{f"zone_{z.value}_min": zone_min[z.value] for z in TiltZone},
            "nudges": shown_by_day.get(day, 0),
            "no_data_min": round(no_data / 60, 1),
            "gaps": gaps,
            "status": "ok",
        }
        rows.append(row)
    return rows


def run_study(
    tasks: Sequence[Task],
    *,
    jobs: int = 1,
    dask_address: str | None = None,
    on_result: Callable[[TaskResult], None] | None = None,
) -> list[TaskResult]:
    """Run every task; results in the order of ``tasks`` whatever order they finish in."""
    if jobs < 1:
        raise StudyError(f"--jobs must be at least 1, not {jobs}")
    for task in tasks:
        task.out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    done: dict[Path, TaskResult] = {}

    def finished(result: TaskResult) -> None:
        done[result.task.source] = result
        if on_result is not None:
            on_result(result)

    if dask_address is not None:
        _run_on_dask(tasks, dask_address, finished)
    elif jobs == 1 or len(tasks) == 1:
        for task in tasks:
            finished(run_task(task))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            futures = [pool.submit(run_task, task) for task in tasks]
            for future in as_completed(futures):
                finished(future.result())
    return [done[task.source] for task in tasks]


def _run_on_dask(
    tasks: Sequence[Task], address: str, finished: Callable[[TaskResult], None]
) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        raise StudyError("--dask needs the dask extra: pip install 'tiltmon[dask]'") from exc
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise StudyError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client:
        # pure=False: a rerun must look at the files again (they may have changed)
        futures = [client.submit(run_task, task, pure=False) for task in tasks]
        for future in dask_completed(futures):
            finished(future.result())


def write_summary(path: Path, results: Sequence[TaskResult]) -> int:
    """One row per recording and calendar day, in input order; returns the number of rows."""
    rows = [row for result in results for row in result.rows]
    with private_output(path) as f:
        out = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        out.writeheader()
        for row in rows:
            out.writerow({k: row.get(k, "") for k in SUMMARY_COLUMNS})
    return len(rows)


def _failed_row(task: Task, why: str) -> dict[str, object]:
    return {"recording": task.name, "status": f"failed: {why}"}


def _local_date(t: float) -> dt.date:
    return dt.datetime.fromtimestamp(t).date()


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "key" in data and "rows" in data else None


def _write_marker(path: Path, data: dict[str, Any]) -> None:
    with private_output(path) as f:
        json.dump(data, f)


__all__ = [
    "StudyError",
    "Task",
    "TaskResult",
    "content_key",
    "expand_inputs",
    "run_study",
    "run_task",
    "summary_rows",
    "write_summary",
]
