"""``tiltmon export FILE --csv [--out PATH]``: a recording's samples and events as CSV files."""

from __future__ import annotations

import argparse
from pathlib import Path

from monitor.commands.replay import resolve_recording
from monitor.errors import MonitorError
from monitor.export import events_path, export_recording
from monitor.private_files import check_output


async def run_export(args: argparse.Namespace) -> int:
    if not args.csv:
        raise MonitorError("say which format: --csv (the only one so far)")
    path = resolve_recording(args.file)
    if not path.is_file():
        raise MonitorError(f"{path}: no such recording")
    out = Path(args.out) if args.out else path.with_suffix(".csv")
    for target in (out, events_path(out)):
        check_output(target, inputs=[path], force=args.force)
    exporter = await export_recording(path, out)
    print(
        f"wrote {exporter.sample_rows} samples to {exporter.samples_path}"
        f" and {exporter.event_rows} events to {exporter.events_path}"
    )
    return 0
