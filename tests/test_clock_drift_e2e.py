"""The clock drift `tiltmon stream` reports, against the simulated sensor's known crystal error.

`--sim-clock-drift PPM` makes the simulated sensor's clock that many ppm fast; the summary's
`drift_ppm` is how much faster the host runs than the sensor, so it should read -PPM. The
streams run at once (they take real time); a loaded machine adds latency that wanders by a
millisecond or so, which over 45 s is some tens of ppm: the bounds allow for that.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def _stream(model: str, ppm: float, *faults: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "stream",
            "--sim",
            "--sim-model",
            model,
            "--sim-clock-drift",
            str(ppm),
            *faults,
            "--seconds",
            "45",
            "--json",
            "--no-record",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _drift(process: subprocess.Popen[str]) -> float:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-2000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["samples"] > 0
    return float(summary["drift_ppm"])


@pytest.mark.slow
def test_the_reported_drift_holds_with_and_without_reconnects_every_second() -> None:
    runs = {
        "steady": _stream("tiltmon", 400),
        "reconnecting": _stream("tiltmon", 400, "--sim-disconnect-every", "1"),
        # Before: -1000 (the bound) and +837 ppm against a true -30.
        "arrival": _stream("witmotion", 40, "--sim-disconnect-every", "1"),
        "sparse_frames": _stream("polar", 40, "--sim-disconnect-every", "1"),
    }
    drift = {name: _drift(process) for name, process in runs.items()}
    assert drift["steady"] == pytest.approx(-400, abs=40), drift
    assert drift["reconnecting"] == pytest.approx(-400, abs=40), drift
    # A sensor without a clock connected a second at a time shows too little of its clock to
    # measure it: the estimate must stay near nominal, not run off with the count's errors.
    assert drift["arrival"] == pytest.approx(-40, abs=60), drift
    # Half-second frames, about one a connection: noisy, but not hundreds of ppm.
    assert drift["sparse_frames"] == pytest.approx(-40, abs=60), drift
