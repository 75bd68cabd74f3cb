"""``tiltmon analyze``: posture, tilt and nudges for one recording, or for a whole study."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TextIO

from monitor.analysis_file import ReadOptions, analyse_csv, write_analysis
from monitor.errors import MonitorError
from monitor.nudge import NudgeShown
from monitor.private_files import check_output

SUMMARY_NAME = "summary.csv"


def run_analyze(args: argparse.Namespace) -> int:
    options = ReadOptions(args.columns, args.acc_unit, args.gyr_unit, args.time_unit, args.start)
    if args.out_dir is None:
        if args.out is None:
            raise MonitorError("say where to write: --out FILE (one recording) or --out-dir DIR")
        if len(args.input) != 1 or any(Path(spec).is_dir() for spec in args.input):
            raise MonitorError("several recordings or a folder need --out-dir DIR, not --out")
        if args.jobs != 1 or args.dask is not None:
            raise MonitorError("--jobs and --dask are for many recordings: use --out-dir DIR")
        return _one(Path(args.input[0]), args.out, options, force=args.force, as_json=args.json)
    if args.out is not None:
        raise MonitorError("--out and --out-dir do not go together: --out-dir writes one per input")
    return _study(args, options)


def _one(source: Path, out: Path, options: ReadOptions, *, force: bool, as_json: bool) -> int:
    check_output(out, inputs=[source], force=force)
    result = analyse_csv(source, options)
    rows = write_analysis(out, result.analysis, result.offset, gaps=result.gaps)
    shown = sum(isinstance(e, NudgeShown) for e in result.analysis.nudges)
    if as_json:
        off_s = sum(s.duration_s for s in result.analysis.non_wear)
        figures = {"out": str(out), "rows": rows, "nudges": shown}
        figures |= {"non_wear_min": round(off_s / 60, 1), "notes": list(result.notes)}
        print(json.dumps(figures))
        return 0
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {rows} rows and {shown} nudges to {out}")
    return 0


def _study(args: argparse.Namespace, options: ReadOptions) -> int:
    from monitor.study import Task, expand_inputs, run_study, write_summary

    out_dir: Path = args.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise MonitorError(f"--out-dir {out_dir} is a file; give a folder")
    sources = expand_inputs(args.input)
    tasks = [Task(source, out_dir, options) for source in sources]
    for task in tasks:  # never over an input or a recording; its own earlier outputs, yes
        check_output(task.output, inputs=sources, force=True)
    summary = out_dir / SUMMARY_NAME
    check_output(summary, inputs=sources, force=True)
    progress = StudyProgress(len(tasks), sys.stderr, shown=sys.stderr.isatty() and not args.json)
    try:
        results = run_study(tasks, jobs=args.jobs, dask_address=args.dask, on_result=progress)
    finally:
        progress.close()
    rows = write_summary(summary, results)
    failed = [r for r in results if r.error is not None]
    skipped = sum(r.skipped for r in results)
    analysed = len(results) - skipped - len(failed)
    if args.json:
        print(
            json.dumps(
                {
                    "analysed": analysed,
                    "unchanged": skipped,
                    "failed": {str(r.task.source): r.error for r in failed},
                    "summary": str(summary),
                    "rows": rows,
                }
            )
        )
    else:
        print(
            f"analysed {analysed}, unchanged {skipped}, failed {len(failed)} of {len(results)}"
            f" recordings; {rows} rows in {summary}"
        )
    return 1 if failed else 0


class StudyProgress:
    """A study's progress on a terminal: one line, redrawn as each recording finishes.

    ``[██████░░░░] 12/40 recordings (2 unchanged, 1 failed) · 1 min 23 s, about 3 min left``.
    Not shown when stderr is not a terminal (a log, a pipe) or with ``--json``: a failure is
    still said, in one line of its own, because it is a message, not progress.
    """

    WIDTH = 24

    def __init__(self, total: int, out: TextIO, *, shown: bool) -> None:
        self.total = total
        self.out = out
        self.shown = shown
        self.started = time.monotonic()
        self.done = self.unchanged = self.failed = 0
        if shown and total > 1:
            self._draw()

    def __call__(self, result: object) -> None:
        from monitor.study import TaskResult

        assert isinstance(result, TaskResult)
        self.done += 1
        self.unchanged += result.skipped
        if result.error is not None:
            self.failed += 1
            self._clear()
            self.out.write(_failure(str(result.task.source), result.error) + "\n")
        if self.shown:
            self._draw()
        self.out.flush()

    def line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = round(share * self.WIDTH)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        extra = [
            f"{n} {what}"
            for n, what in ((self.unchanged, "unchanged"), (self.failed, "failed"))
            if n
        ]
        elapsed = time.monotonic() - self.started
        text = f"[{bar}] {self.done}/{self.total} recordings"
        if extra:
            text += f" ({', '.join(extra)})"
        text += f" · {_duration(elapsed)}"
        if 0 < self.done < self.total:
            text += f", about {_duration(elapsed / self.done * (self.total - self.done))} left"
        return text

    def close(self) -> None:
        if self.shown:
            self._clear()
            self.out.flush()

    def _draw(self) -> None:
        self.out.write("\r\x1b[2K" + self.line())

    def _clear(self) -> None:
        if self.shown:
            self.out.write("\r\x1b[2K")


def _failure(source: str, error: str) -> str:
    """``SOURCE: failed, line 2: ...`` (the error names the file itself, most often)."""
    if error.startswith(source):
        return f"{source}: failed{error[len(source) :]}"
    return f"{source}: failed: {error}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"
