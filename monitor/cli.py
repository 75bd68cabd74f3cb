"""The ``tiltmon`` command. Thin: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from monitor import __version__
from monitor.errors import MonitorError
from monitor.sensors import PROTOCOLS


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), not {text}")
    return value


def _drift_ppm(text: str) -> float:
    value = float(text)
    if not abs(value) < 1000.0:
        raise argparse.ArgumentTypeError(f"{text} ppm is not a crystal's error (within ±1000)")
    return value


def _passkey(text: str) -> int:
    from monitor.pairing import parse_passkey

    try:
        return parse_passkey(text)
    except MonitorError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Deprecated(argparse.Action):
    """An option that no longer does anything: accepted, with one line saying so."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(
            f"tiltmon: {option_string} is no longer needed (the simulated sensor speaks"
            " profile version 2 by default; --sim-open-link / --open-link for version 1)",
            file=sys.stderr,
        )


def _add_sensor_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--sim",
        nargs="?",
        const="desk_short",
        metavar="SCENARIO",
        help="use the simulated sensor (default scenario: desk_short); see `tiltmon sim --list`",
    )
    where.add_argument("--sensor", metavar="NAME_OR_ADDRESS", help="a particular sensor")
    parser.add_argument(
        "--radio",
        metavar="SPEC",
        help="reach sensors through a virtual radio, e.g. tcp-client:127.0.0.1:9002 "
        "(as printed by `tiltmon sim`); default $TILTMON_RADIO, else the system's Bluetooth",
    )
    parser.add_argument(
        "--adapter-timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="when the Bluetooth adapter (or the virtual radio) goes away, keep reopening it"
        " this long before giving up with an error (default 60)",
    )
    parser.add_argument(
        "--rate",
        type=int,
        default=100,
        choices=(10, 20, 25, 50, 100, 200),
        help="Hz (a sensor that cannot takes its nearest rate, and says so)",
    )
    parser.add_argument("--seed", type=int, default=0, help="simulated sensor's seed")
    parser.add_argument(
        "--sim-speed",
        type=_positive_float,
        default=1.0,
        metavar="N",
        help="the simulated wearer's time runs N times real time (60: an hour a minute); above"
        " 10 the simulated sensor streams at most 25 Hz of its time",
    )
    parser.add_argument(
        "--sim-open-link",
        action="store_true",
        help="the simulated tiltmon sensor speaks profile version 1 (no pairing, data for any"
        " computer), as firmware before the private link did; default: version 2",
    )
    parser.add_argument(
        "--sim-passkey",
        type=_passkey,
        metavar="NNNNNN",
        help="the simulated sensor asks for this 6-digit passkey when pairing (LE Secure"
        " Connections passkey entry; default: Just Works, as the DIY clip)",
    )
    parser.add_argument(
        "--sim-private-link", action=_Deprecated, nargs=0, help=argparse.SUPPRESS
    )  # the default since the simulator speaks version 2
    _add_model_option(parser)
    _add_fault_options(parser)


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sim-model",
        default="tiltmon",
        choices=list(PROTOCOLS),
        help="which sensor the simulator plays: its wire protocol (default: tiltmon)",
    )


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group("faults injected in the simulated firmware")
    faults.add_argument(
        "--sim-drop",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="drop this share of notifications",
    )
    faults.add_argument(
        "--sim-corrupt",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="send this share of notifications malformed",
    )
    faults.add_argument(
        "--sim-disconnect-every",
        type=_positive_float,
        metavar="SECONDS",
        help="drop the link after this long connected",
    )
    faults.add_argument(
        "--sim-stall-after",
        type=_positive_float,
        metavar="SECONDS",
        help="stop sending (link up) after this long streaming",
    )
    faults.add_argument(
        "--sim-battery", type=int, default=87, metavar="PERCENT", help="battery level at start"
    )
    faults.add_argument(
        "--sim-clock-drift",
        type=_drift_ppm,
        metavar="PPM",
        help="the sensor's clock this many ppm fast, negative for slow (default: the"
        " scenario's, a few tens of ppm)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiltmon",
        description="Wearable pelvic-tilt monitor: stream, analyse and nudge.",
    )
    parser.add_argument("--version", action="version", version=f"tiltmon {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    _add_dashboard_options(parser)  # no command: the dashboard
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_dashboard_options(commands.add_parser("dashboard", help="the live dashboard (default)"))

    stream = commands.add_parser("stream", help="stream samples from a sensor (headless)")
    _add_sensor_options(stream)
    stream.add_argument(
        "--seconds", type=_positive_float, default=None, help="stop after this long"
    )
    stream.add_argument("--json", action="store_true", help="end with one JSON summary line")
    _add_recording_options(stream)

    scan = commands.add_parser("scan", help="list tiltmon sensors in range")
    scan.add_argument("--seconds", type=_positive_float, default=5.0, help="scan this long")
    scan.add_argument("--radio", metavar="SPEC", help="scan through a virtual radio")
    scan.add_argument("--json", action="store_true")

    pair = commands.add_parser(
        "pair",
        help="pair with a tiltmon sensor (open its pairing window first)",
        description="Pair once with a sensor that speaks profile version 2 (docs/protocol.md):"
        " its data and controls then go over an encrypted link to this computer only, and"
        " tiltmon connects to the sensors it is paired with and no others.",
    )
    where = pair.add_mutually_exclusive_group()
    where.add_argument(
        "--sim",
        nargs="?",
        const="desk_short",
        metavar="SCENARIO",
        help="pair with a simulated sensor just switched on (in this process)",
    )
    where.add_argument("--sensor", metavar="NAME_OR_ADDRESS", help="a particular sensor")
    where.add_argument("--list", action="store_true", help="list the paired sensors")
    where.add_argument("--forget", metavar="ADDRESS", help="forget a paired sensor")
    pair.add_argument("--radio", metavar="SPEC", help="pair through a virtual radio")
    pair.add_argument("--seconds", type=_positive_float, default=5.0, help="scan this long")
    pair.add_argument("--seed", type=int, default=0, help="simulated sensor's seed")
    pair.add_argument(
        "--passkey",
        type=_passkey,
        metavar="NNNNNN",
        help="the 6-digit passkey on the sensor's label, for a sensor that asks for one"
        " (asked for at the terminal when not given)",
    )
    pair.add_argument(
        "--sim-passkey",
        type=_passkey,
        metavar="NNNNNN",
        help="with --sim: the simulated sensor asks for this passkey",
    )

    sim = commands.add_parser("sim", help="run a simulated sensor as its own process")
    sim.add_argument("scenario", nargs="?", default="desk_short")
    sim.add_argument(
        "--list", action="store_true", help="list the sensor models and scenarios, and exit"
    )
    sim.add_argument("--port", type=int, default=0, help="loopback TCP port (default: any free)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument(
        "--open-link",
        action="store_true",
        help="profile version 1: no pairing, data for any computer (firmware before the"
        " private link); default: version 2, pairing window open for the first two minutes",
    )
    sim.add_argument(
        "--passkey",
        nargs="?",
        const="random",
        metavar="NNNNNN",
        help="pairing asks for a 6-digit passkey (LE Secure Connections passkey entry), as a"
        " clip with a label or a display; bare --passkey: a random one, printed",
    )
    sim.add_argument("--private-link", action=_Deprecated, nargs=0, help=argparse.SUPPRESS)
    _add_model_option(sim)
    _add_fault_options(sim)

    calibrate = commands.add_parser("calibrate", help="calibrate how the sensor sits (guided)")
    _add_sensor_options(calibrate)
    for action in calibrate._actions:  # bare --sim: the scenario made for calibration
        if action.dest == "sim":
            action.const = "calibration"
    calibrate.add_argument("--tilt", action="store_true", help="pelvic tilts instead of walking")
    calibrate.add_argument("--device", metavar="ID", help="profile name (default: sensor serial)")
    calibrate.add_argument(
        "--seconds", type=_positive_float, default=90.0, help="give up after this long"
    )

    from monitor.commands.coach import add_coach_parser

    add_coach_parser(commands, _add_sensor_options, _add_recording_options)

    sessions = commands.add_parser(
        "sessions",
        help="list recorded sessions (live, damaged and empty ones marked); delete or prune them",
    )
    sessions.add_argument("--json", action="store_true")
    sessions.add_argument(
        "--delete", metavar="NAME", nargs="+", help="delete these sessions (names as listed)"
    )
    sessions.add_argument(
        "--prune-empty", action="store_true", help="delete every session without samples"
    )
    replay = commands.add_parser("replay", help="play a recorded session back")
    replay.add_argument("file", help="a session file (or its name in `tiltmon sessions`)")
    replay.add_argument("--headless", action="store_true", help="no UI: print a summary")
    replay.add_argument("--json", action="store_true", help="the summary as one JSON line")
    replay.add_argument(
        "--speed",
        type=_replay_speed,
        default=None,
        metavar="FACTOR",
        help="pace by the recorded times: 1 real time, 60 a minute a second, max as fast as"
        " possible; default: 10 on the dashboard, max with --headless",
    )

    analyze = commands.add_parser(
        "analyze",
        help="posture, tilt and nudges for a CSV recording from any device",
        description="Columns t (s, ms, µs or ns), ax, ay, az (m/s²) and optionally gx, gy, gz"
        " (rad/s; without them tilt comes from the accelerometer alone). The sensor may sit on"
        " the belt any way round: alignment comes from the data. Gaps in time are not filled"
        " in: they are reported and marked no_data in the output; a sensor left lying still for"
        " 30 min or more (a desk, a bag) is marked non_wear. Many recordings show a progress"
        " bar on a terminal.",
    )
    analyze.add_argument(
        "input",
        nargs="+",
        help="CSV with a header row; with --out-dir: several files (CSV or .tiltmon sessions),"
        " folders (searched for both) or glob patterns",
    )
    analyze.add_argument("--out", type=Path, help="CSV to write, a row a second")
    analyze.add_argument("--force", action="store_true", help="replace --out if it exists")
    analyze.add_argument(
        "--out-dir",
        type=Path,
        help="a study: each input's rows to DIR/NAME.seconds.csv and a row per recording and"
        " day to DIR/summary.csv; inputs unchanged since the last run are skipped",
    )
    analyze.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="analyse N recordings at a time"
    )
    analyze.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="send the recordings to this Dask scheduler (pip install 'tiltmon[dask]')",
    )
    analyze.add_argument(
        "--columns",
        metavar="T,AX,AY,AZ[,GX,GY,GZ]",
        help="names of the time, accelerometer and gyroscope columns (default t,ax,ay,az,gx,gy,gz)",
    )
    analyze.add_argument(
        "--time-unit",
        choices=("auto", "s", "ms", "us", "ns"),
        default="auto",
        help="unit of the time column (default: recognised from the sample rate)",
    )
    analyze.add_argument(
        "--json",
        action="store_true",
        help="the outcome as one JSON line (no progress bar, notes in it)",
    )
    analyze.add_argument("--acc-unit", choices=("m/s2", "g"), default="m/s2")
    analyze.add_argument("--gyr-unit", choices=("rad/s", "deg/s"), default="rad/s")
    analyze.add_argument(
        "--start",
        metavar="ISO_DATETIME",
        help="wall-clock time of t = 0, e.g. 2026-11-20T09:00:00+01:00 (for quiet hours);"
        " not needed when t is already Unix time",
    )
    _add_report_commands(commands)
    _add_service_commands(commands)
    return parser


def _add_service_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    service = commands.add_parser(
        "service",
        help="monitor with no terminal open: record and nudge headless (a systemd user service)",
        description="`run` streams, records and nudges through desktop notifications with no"
        " terminal; the dashboard attaches to it with `tiltmon attach`. `install` writes the"
        " systemd user unit; `status` says whether one runs (docs/service.md).",
    )
    actions = service.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run the service in this process (systemd runs this)")
    _add_sensor_options(run)
    _add_recording_options(run)
    run.add_argument("--no-notify", action="store_true", help="nudges go to the log only")
    run.add_argument("--strict", action="store_true", help="no snooze or dismiss (also config)")
    run.add_argument("--socket", metavar="PATH", help="control socket (default: see docs)")
    run.add_argument(
        "--seconds", type=_positive_float, default=None, help="stop after this long streaming"
    )
    install = actions.add_parser("install", help="write ~/.config/systemd/user/tiltmon.service")
    install.add_argument("--sensor", metavar="NAME_OR_ADDRESS", help="a particular sensor")
    install.add_argument("--no-notify", action="store_true", help="nudges go to the log only")
    install.add_argument("--strict", action="store_true", help="no snooze or dismiss")
    install.add_argument("--force", action="store_true", help="replace a different unit file")
    status = actions.add_parser("status", help="is a service running, and what does it do")
    status.add_argument("--socket", metavar="PATH", help="control socket (default: see docs)")
    status.add_argument("--json", action="store_true")
    attach = commands.add_parser(
        "attach",
        help="the dashboard on the running service; q detaches and the service carries on",
    )
    attach.add_argument("--socket", metavar="PATH", help="control socket (default: see docs)")


def _add_report_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="a session's or a day's sitting, bouts, breaks, tilt and nudges, with a PNG timeline",
        description="Replays the recordings through the current pipeline: figures in the"
        " terminal, and the timeline as a PNG.",
    )
    report.add_argument("file", nargs="?", help="one session (default: all of --day)")
    report.add_argument("--day", metavar="YYYY-MM-DD", help="every session of that day (today)")
    period = report.add_mutually_exclusive_group()
    period.add_argument(
        "--week", action="store_true", help="the 7 days ending with --day: a row per day"
    )
    period.add_argument(
        "--month", action="store_true", help="the 30 days ending with --day: a row per day"
    )
    report.add_argument(
        "--csv", metavar="PATH", help="with --week/--month: where the row per day goes"
    )
    png = report.add_mutually_exclusive_group()
    png.add_argument("--png", metavar="PATH", help="where to draw the timeline")
    png.add_argument("--no-png", action="store_true", help="no timeline image")
    report.add_argument("--json", action="store_true", help="the figures as one JSON line")
    export = commands.add_parser(
        "export",
        help="a session's samples (with angles and posture) and events as CSV",
        description="Writes OUT.csv (a row per sample: t, sensor_time, ax..gz, angles, posture,"
        " zone; `tiltmon analyze` reads it) and OUT.events.csv (t, kind, detail as JSON).",
    )
    export.add_argument("file", help="a session file (or its name in `tiltmon sessions`)")
    export.add_argument("--csv", action="store_true", required=True, help="as CSV files")
    export.add_argument("--out", metavar="PATH", help="samples file (default: FILE with .csv)")
    export.add_argument(
        "--force", action="store_true", help="replace the output files if they exist"
    )


def _add_dashboard_options(parser: argparse.ArgumentParser) -> None:
    _add_sensor_options(parser)
    for action in parser._actions:  # bare --sim: the scenario that reaches the nudges
        if action.dest == "sim":
            action.const = "desk_demo"
            action.help = (
                "use the simulated sensor (default scenario: desk_demo, a few minutes of"
                " everything and then an hour at the desk); see `tiltmon sim --list`"
            )
    _add_recording_options(parser)
    parser.add_argument("--no-notify", action="store_true", help="no desktop notifications")
    parser.add_argument(
        "--attach",
        action="store_true",
        help="attach to the running service instead of opening the sensor (`tiltmon attach`)",
    )


def _add_recording_options(parser: argparse.ArgumentParser) -> None:
    record = parser.add_mutually_exclusive_group()
    record.add_argument(
        "--record",
        metavar="PATH",
        help="record the session to this file (default: a new file in the sessions directory)",
    )
    record.add_argument(
        "--no-record", action="store_true", help="do not record (sessions are recorded by default)"
    )


def _replay_speed(text: str) -> float | None:
    if text.lower() in ("max", "inf"):
        return None
    return _positive_float(text)


EXIT_FAILED = 1  # the command could not do its job: the message says why
EXIT_BUG = 70  # EX_SOFTWARE: an error tiltmon did not expect (a traceback is printed)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. Expected failures end in one line and exit 1; a bug shows its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * args.verbose, format="%(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:
        # A refused pairing is said once, in tiltmon's own line; bumble's SMP warns as well.
        logging.getLogger("bumble.smp").setLevel(logging.ERROR)
    try:
        _check_scenario(parser, args)
        return _run(parser, args)
    except KeyboardInterrupt:
        return 130
    except MonitorError as exc:
        return _fail(str(exc))
    except MemoryError:
        return _fail("out of memory: the input is too large for this computer")
    except OSError as exc:
        return _fail(os_error_text(exc))
    except Exception as exc:
        from calibration.errors import CalibrationError

        if isinstance(exc, CalibrationError):  # the calibration package's own failures
            return _fail(str(exc))
        traceback.print_exc()
        print(
            f"tiltmon: this is a bug in tiltmon ({type(exc).__name__}); please report it to the"
            " tiltmon issue tracker with the traceback above and the command you ran",
            file=sys.stderr,
        )
        return EXIT_BUG


def _fail(message: str) -> int:
    print(f"tiltmon: {message}", file=sys.stderr)
    return EXIT_FAILED


def os_error_text(exc: OSError) -> str:
    """An OSError in one line: what failed on which file, without the errno noise."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        other = f" → {exc.filename2}" if exc.filename2 is not None else ""
        return f"{exc.filename}{other}: {reason}"
    return reason


def _check_scenario(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An unknown scenario name is the user's typo, said before anything starts."""
    name = getattr(args, "scenario", None) if args.command == "sim" else getattr(args, "sim", None)
    if name is None or getattr(args, "list", False):
        return
    from firmware_sim.exercises import is_exercise_scenario, routine_items
    from firmware_sim.scenarios import scenario_names

    if args.command == "coach" and name == "coach":
        return  # bare --sim: the simulated wearer does what the coach asks
    if is_exercise_scenario(name):
        if name.startswith("coach:"):
            try:
                routine_items(name)
            except ValueError as exc:
                raise MonitorError(str(exc)) from None
        return
    if args.command != "sim" and name in _command_names(parser):
        raise MonitorError(
            f"{name!r} is a command, not a scenario: name the command first, `tiltmon {name} --sim`"
        )
    if name not in scenario_names():
        raise MonitorError(f"unknown scenario {name!r}; valid names: {', '.join(scenario_names())}")


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command in (None, "dashboard"):
        from monitor.commands.dashboard import run_dashboard

        return asyncio.run(run_dashboard(args))
    if args.command == "stream":
        from monitor.commands.stream import run_stream

        return asyncio.run(run_stream(args))
    if args.command == "analyze":
        from monitor.commands.analyze import run_analyze

        return run_analyze(args)
    if args.command == "scan":
        from monitor.commands.stream import run_scan

        return asyncio.run(run_scan(args))
    if args.command == "pair":
        from monitor.commands.pair import run_pair

        return asyncio.run(run_pair(args))
    if args.command == "sim":
        from monitor.commands.sim import run_sim

        return asyncio.run(run_sim(args))
    if args.command == "calibrate":
        from monitor.commands.calibrate import run_calibrate

        return asyncio.run(run_calibrate(args))
    if args.command == "coach":
        from monitor.commands.coach import run_coach

        return asyncio.run(run_coach(args))
    if args.command == "sessions":
        from monitor.commands.record import run_sessions

        return asyncio.run(run_sessions(args))
    if args.command == "replay":
        from monitor.commands.replay import run_replay

        return asyncio.run(run_replay(args))
    if args.command == "report":
        from monitor.commands.report import run_report

        return asyncio.run(run_report(args))
    if args.command == "service":
        from monitor.commands.service import run_service_command

        return asyncio.run(run_service_command(args))
    if args.command == "attach":
        from monitor.commands.dashboard import run_attach

        return asyncio.run(run_attach(getattr(args, "socket", None)))
    if args.command == "export":
        from monitor.commands.export import run_export

        return asyncio.run(run_export(args))
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
