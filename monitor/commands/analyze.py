"""``tiltmon analyze``: posture, tilt and nudges for one recording, or for a whole study."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

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
        return _one(Path(args.input[0]), args.out, options, force=args.force)
    if args.out is not None:
        raise MonitorError("--out and --out-dir do not go together: --out-dir writes one per input")
    return _study(args, options)


def _one(source: Path, out: Path, options: ReadOptions, *, force: bool) -> int:
    check_output(out, inputs=[source], force=force)
    result = analyse_csv(source, options)
    rows = write_analysis(out, result.analysis, result.offset, gaps=result.gaps)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    shown = sum(isinstance(e, NudgeShown) for e in result.analysis.nudges)
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
    started = time.monotonic()
    count = 0

    def progress(result: object) -> None:
        nonlocal count
        count += 1
        elapsed = time.monotonic() - started
        left = elapsed / count * (len(tasks) - count)
        what = _describe(result)
        print(
            f"[{count}/{len(tasks)}] {what}  ({elapsed:.0f} s, about {left:.0f} s left)",
            file=sys.stderr,
        )

    results = run_study(tasks, jobs=args.jobs, dask_address=args.dask, on_result=progress)
    rows = write_summary(summary, results)
    failed = [r for r in results if r.error is not None]
    skipped = sum(r.skipped for r in results)
    print(
        f"analysed {len(results) - skipped - len(failed)}, unchanged {skipped},"
        f" failed {len(failed)} of {len(results)} recordings; {rows} rows in {summary}"
    )
    return 1 if failed else 0


def _describe(result: object) -> str:
    from monitor.study import TaskResult

    assert isinstance(result, TaskResult)
    if result.error is not None:
        return f"{result.task.source}: failed: {result.error}"
    state = "unchanged, skipped" if result.skipped else "done"
    return f"{result.task.source.name}: {state}"
