"""Every sensor model against the tiltmon profile: delivery over the radio, tilt and posture over
an office day.

    python benchmarks/bench_sensor_models.py [--seconds 30] [--hours 1] [--models M ...]

Two parts, both through the commands a user runs (subprocesses of the installed `tiltmon`):

1. Delivery: ``tiltmon stream --sim --sim-model M --seconds S --json --no-record`` with faults
   injected in the simulated firmware (1 % of notifications dropped, the link cut every 10 s).
   Printed: the share of the samples the firmware sent that the stream delivered, duplicates,
   the measured and the configured rate, reconnects. Live streaming runs in real time (there is
   no speed-up), so a whole office day cannot go this way.
2. Tilt and posture over ``--hours`` of the ``office_day`` scenario: the same simulated wearer
   (seed, IMU errors, mounting) is packed as each device packs it (the firmware's packetisers,
   the bytes its notifications carry), saved as a tiltmon session (what `tiltmon record` writes)
   and exported with ``tiltmon export --csv``: the replay path a user runs, through the same
   decoder, stream and pipeline as a live session, at CPU speed. Each model's sensor is
   calibrated (a profile with the clip's mounting, as `tiltmon calibrate` leaves), so the
   differences are the protocols' alone. Printed per model: mean and worst |difference| of the
   sagittal and frontal angles against the tiltmon profile's export at the same instants, and the
   share of one-second posture frames that agree. Gyroscope models should be within 0.2°.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from calibration import DATA_DIR_ENV, CalibrationProfile, save_profile  # noqa: E402
from firmware_sim import metamotion, movesense, polar, thingy, witmotion  # noqa: E402
from firmware_sim.models import MODELS, sim_address  # noqa: E402
from firmware_sim.packets import packetize as tiltmon_packetize  # noqa: E402
from firmware_sim.simulation import SimulatedRecording, simulate  # noqa: E402
from monitor.pipeline import profile_id, profile_identity  # noqa: E402
from monitor.recording import SessionRecorder  # noqa: E402
from monitor.sensors import StreamFormat  # noqa: E402
from monitor.transport.items import (  # noqa: E402
    DeviceInfo,
    LinkEvent,
    LinkEventKind,
    Notification,
)

T0 = 1_790_000_000.0
SEED = 11


@dataclass(frozen=True)
class DayPath:
    """How a model's device packs a recording: the rate and ranges it runs, its stream format
    and its packetiser (arrival time after the first sample, payload)."""

    rate_hz: int
    acc_range_g: int
    gyr_range_dps: int
    fmt: StreamFormat
    packets: Callable[[SimulatedRecording], Iterable[tuple[float, bytes]]]


def _tiltmon(rec: SimulatedRecording) -> Iterator[tuple[float, bytes]]:
    return ((t + 0.012, p) for t, p in tiltmon_packetize(rec))


DAY_PATHS = {
    "tiltmon": DayPath(50, 8, 500, StreamFormat(50, 8, 500, True, 19, True), _tiltmon),
    "witmotion": DayPath(
        50, 16, 2000, StreamFormat(50, 16, 2000, protocol="witmotion"), witmotion.packetize
    ),
    "polar": DayPath(
        52,
        8,
        2000,
        StreamFormat(52, 8, 2000, protocol="polar", gyr_factor=2000 / 32768),
        polar.packetize,
    ),
    "movesense": DayPath(
        52, 8, 2000, StreamFormat(52, 8, 2000, protocol="movesense"), movesense.packetize
    ),
    "metamotion": DayPath(
        50,
        8,
        500,
        StreamFormat(50, 8, 500, samples_per_packet=3, protocol="metamotion"),
        metamotion.packetize,
    ),
    "thingy": DayPath(
        50, 16, 2000, StreamFormat(50, 16, 2000, protocol="thingy"), thingy.packetize
    ),
}


def tiltmon_command() -> list[str]:
    exe = shutil.which("tiltmon")
    return [exe] if exe else [sys.executable, "-m", "monitor.cli"]


# --- 1. delivery over the virtual radio --------------------------------------------------------


def delivery(model: str, seconds: int) -> dict[str, object]:
    out = subprocess.run(
        [
            *tiltmon_command(),
            "stream",
            "--sim",
            "--sim-model",
            model,
            "--seconds",
            str(seconds),
            "--json",
            "--no-record",
            "--sim-drop",
            "0.01",
            "--sim-disconnect-every",
            "10",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 180,
    )
    summary: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return summary


# --- 2. tilt and posture over an office day -----------------------------------------------------


def write_session(
    path: Path, info: DeviceInfo, fmt: StreamFormat, notes: Iterable[tuple[float, bytes]]
) -> None:
    with SessionRecorder(path, transport=f"bench ({fmt.protocol})") as recorder:
        recorder.feed(LinkEvent(T0, LinkEventKind.DEVICE_INFO, device_info=info))
        recorder.feed(LinkEvent(T0, LinkEventKind.CONFIGURED, config=fmt))
        last = T0
        for at, payload in notes:
            last = T0 + at
            recorder.feed(Notification(last, payload))
        recorder.close(last)


def export_day(model: str, hours: float, work: Path) -> dict[str, np.ndarray]:
    path = DAY_PATHS[model]
    rec = simulate(
        "office_day",
        seed=SEED,
        rate_hz=path.rate_hz,
        duration_s=hours * 3600,
        acc_range_g=path.acc_range_g,
        gyr_range_dps=path.gyr_range_dps,
    )
    info = DeviceInfo(name=model, address=sim_address(model, SEED), serial=f"{model}-{SEED}")
    save_profile(
        CalibrationProfile(
            device_id=profile_id(info),
            created="2026-11-30T08:00:00+00:00",
            q_PS=rec.mounting,
            gyro_bias=np.zeros(3),
            method="tilt",
            identity=profile_identity(info),
        )
    )
    session = work / f"{model}.tiltmon"
    write_session(session, info, path.fmt, path.packets(rec))
    out = work / f"{model}.csv"
    subprocess.run(
        [*tiltmon_command(), "export", str(session), "--csv", "--out", str(out)],
        check=True,
        capture_output=True,
        env=os.environ,
    )
    columns: dict[str, list[str]] = {k: [] for k in ("sensor_time", "sagittal_deg", "frontal_deg")}
    postures: list[str] = []
    with out.open(newline="") as handle:
        for row in csv.DictReader(handle):
            for key, values in columns.items():
                values.append(row[key])
            postures.append(row["posture"])
    result = {k: np.array(v, dtype=np.float64) for k, v in columns.items()}
    result["posture"] = np.array(postures)
    return result


def compare(model: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict[str, float]:
    """The model's angles at the reference's instants (sensor time), and posture by second."""
    t_ref, t = reference["sensor_time"], model["sensor_time"]
    inside = (t_ref >= t[0]) & (t_ref <= t[-1]) & (t_ref >= 10.0)  # after the first seconds
    figures: dict[str, float] = {}
    for angle in ("sagittal_deg", "frontal_deg"):
        diff = np.abs(np.interp(t_ref[inside], t, model[angle]) - reference[angle][inside])
        figures[f"{angle}_mean"] = float(np.mean(diff))
        figures[f"{angle}_worst"] = float(np.max(diff))
    seconds = int(min(t_ref[-1], t[-1]))
    ref_by_s = _posture_by_second(t_ref, reference["posture"], seconds)
    got_by_s = _posture_by_second(t, model["posture"], seconds)
    scored = (ref_by_s != "") & (got_by_s != "")
    figures["posture_agree"] = float(np.mean(ref_by_s[scored] == got_by_s[scored]))
    return figures


def _posture_by_second(t: np.ndarray, posture: np.ndarray, seconds: int) -> np.ndarray:
    out = np.full(seconds, "", dtype=object)
    k = t.astype(np.int64)
    keep = k < seconds
    out[k[keep]] = posture[keep]  # the last sample of each second
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="of live streaming per model")
    parser.add_argument("--hours", type=float, default=1.0, help="of the office day")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--skip-delivery", action="store_true", help="only the office day")
    parser.add_argument("--skip-day", action="store_true", help="only the delivery")
    args = parser.parse_args()

    if not args.skip_delivery:
        print(f"delivery: tiltmon stream --sim --sim-model M --seconds {args.seconds} --json,")
        print("  1 % of notifications dropped, the link cut every 10 s")
        print("  delivered: of the samples the firmware sent; rate: delivered per second of the")
        print("  run (losses lower it); clock: the sensor's rate as the stream's clock mapping")
        print("  measures it; lost: counted by the stream (the firmware's true figure)")
        heading = f"{'model':<11}{'delivered':>10}{'dupl.':>6}{'rate Hz':>9}{'clock Hz':>10}"
        print(heading + f"{'set Hz':>7}{'lost (true)':>13}{'reconn.':>8}")
        for model in args.models:
            s = delivery(model, args.seconds)
            firmware = s["firmware"]
            assert isinstance(firmware, dict)
            sent = int(firmware["samples_sent"])
            share = 100.0 * int(str(s["samples"])) / max(1, sent)
            configured = float(str(s["configured_rate_hz"]))
            clock = configured / (1.0 + float(str(s["drift_ppm"])) * 1e-6)
            lost = f"{s['lost']} ({int(firmware['samples_spanned']) - sent})"
            print(
                f"{model:<11}{share:>9.2f}%{s['duplicates']!s:>6}{s['rate_hz']!s:>9}"
                f"{clock:>10.2f}{configured:>7g}{lost:>13}{s['reconnects']!s:>8}"
            )

    if args.skip_day:
        return
    print(f"\noffice day: {args.hours:g} h of office_day (seed {SEED}) through tiltmon export,")
    print("  |difference| from the tiltmon profile's angles, deg; posture frames agreeing")
    header = f"{'model':<11}{'sag mean':>9}{'sag worst':>10}{'fro mean':>9}{'fro worst':>10}"
    print(header + f"{'posture':>9}{'export s':>9}")
    with tempfile.TemporaryDirectory(prefix="bench-sensor-models-") as tmp:
        work = Path(tmp)
        os.environ[DATA_DIR_ENV] = str(work / "data")  # the profiles, for the subprocesses too
        reference = export_day("tiltmon", args.hours, work)
        for model in args.models:
            begun = time.perf_counter()
            got = reference if model == "tiltmon" else export_day(model, args.hours, work)
            took = time.perf_counter() - begun
            f = compare(got, reference)
            print(
                f"{model:<11}{f['sagittal_deg_mean']:>9.3f}{f['sagittal_deg_worst']:>10.2f}"
                f"{f['frontal_deg_mean']:>9.3f}{f['frontal_deg_worst']:>10.2f}"
                f"{100 * f['posture_agree']:>8.1f}%{took:>9.1f}"
            )


if __name__ == "__main__":
    main()
