"""The ``tiltmon`` command. Thin: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.errors import MonitorError


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
    parser.add_argument("--rate", type=int, default=100, choices=(25, 50, 100, 200), help="Hz")
    parser.add_argument("--seed", type=int, default=0, help="simulated sensor's seed")
    _add_fault_options(parser)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiltmon",
        description="Wearable pelvic-tilt monitor: stream, analyse and nudge.",
    )
    parser.add_argument("--version", action="version", version=f"tiltmon {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    stream = commands.add_parser("stream", help="stream samples from a sensor (headless)")
    _add_sensor_options(stream)
    stream.add_argument(
        "--seconds", type=_positive_float, default=None, help="stop after this long"
    )
    stream.add_argument("--json", action="store_true", help="end with one JSON summary line")

    scan = commands.add_parser("scan", help="list tiltmon sensors in range")
    scan.add_argument("--seconds", type=_positive_float, default=5.0, help="scan this long")
    scan.add_argument("--radio", metavar="SPEC", help="scan through a virtual radio")
    scan.add_argument("--json", action="store_true")

    sim = commands.add_parser("sim", help="run a simulated sensor as its own process")
    sim.add_argument("scenario", nargs="?", default="desk_short")
    sim.add_argument("--list", action="store_true", help="list the scenarios and exit")
    sim.add_argument("--port", type=int, default=0, help="loopback TCP port (default: any free)")
    sim.add_argument("--seed", type=int, default=0)
    _add_fault_options(sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * args.verbose, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        args = parser.parse_args(["stream", "--sim", *(argv or [])])
    try:
        if args.command == "stream":
            from monitor.commands.stream import run_stream

            return asyncio.run(run_stream(args))
        if args.command == "scan":
            from monitor.commands.stream import run_scan

            return asyncio.run(run_scan(args))
        if args.command == "sim":
            from monitor.commands.sim import run_sim

            return asyncio.run(run_sim(args))
    except KeyboardInterrupt:
        return 130
    except MonitorError as exc:
        print(f"tiltmon: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"tiltmon: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
