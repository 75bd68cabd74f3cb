"""The simulated tiltmon sensor speaks profile version 2 (the private link) wherever a user meets
it, and pairs on first use as a clip just switched on would; `--sim-open-link` keeps version 1
for studying older firmware. Through the command line, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main


@pytest.fixture(autouse=True)
def _fresh_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TILTMON_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("TILTMON_RADIO", raising=False)


def stream_summary(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    code = main(["stream", "--sim", "standing", "--seconds", "1", "--json", "--no-record", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert isinstance(summary, dict)
    return summary


def test_stream_sim_pairs_a_version_2_sensor_on_first_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = stream_summary(capsys)
    firmware = summary["firmware"]
    assert isinstance(firmware, dict)
    assert isinstance(summary["samples"], int) and summary["samples"] >= 50
    assert firmware["pairings"] == 1  # paired, inside the window of a sensor just switched on
    assert firmware["access_refused"] >= 1  # it refused the configuration until then


def test_sim_open_link_keeps_version_1(capsys: pytest.CaptureFixture[str]) -> None:
    summary = stream_summary(capsys, "--sim-open-link")
    firmware = summary["firmware"]
    assert isinstance(firmware, dict)
    assert firmware["pairings"] == 0 and firmware["access_refused"] == 0


def test_the_old_private_link_option_is_accepted_and_says_it_is_the_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["stream", "--sim", "--sim-private-link", "--seconds", "0.5", "--no-record"])
    _out, err = capsys.readouterr()
    assert code == 0
    assert "--sim-private-link is no longer needed" in err


def test_link_options_of_other_models_and_of_version_1_are_clear_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = ["stream", "--sim", "--seconds", "0.5", "--no-record"]
    assert main([*wrong, "--sim-model", "witmotion", "--sim-open-link"]) == 1
    assert "witmotion model keeps its own protocol's security" in capsys.readouterr().err
    assert main([*wrong, "--sim-open-link", "--sim-passkey", "123456"]) == 1
    assert "a version-1 (open link) sensor never pairs" in capsys.readouterr().err


@pytest.mark.slow
def test_tiltmon_sim_shows_its_passkey_and_pairs_with_it_across_processes(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "TILTMON_DATA_DIR": str(tmp_path / "host")}
    sim = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "sim", "standing", "--passkey"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TILTMON_DATA_DIR": str(tmp_path / "sim")},
    )
    try:
        assert sim.stdout is not None
        banner = "".join(sim.stdout.readline() for _ in range(3))
        spec = re.search(r"tcp-client:127\.0\.0\.1:\d+", banner)
        label = re.search(r"passkey on its label: (\d{6})", banner)
        assert spec is not None and label is not None, banner
        assert f"--passkey {label.group(1)}" in banner

        def tiltmon(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "monitor.cli", *args, "--radio", spec.group(0)],
                capture_output=True,
                text=True,
                timeout=90,
                env=env,
                stdin=subprocess.DEVNULL,
            )

        paired = tiltmon("pair", "--seconds", "1", "--passkey", label.group(1))
        assert paired.returncode == 0, paired.stderr
        streamed = tiltmon("stream", "--seconds", "2", "--json", "--no-record")
        assert streamed.returncode == 0, streamed.stderr
        summary = json.loads(streamed.stdout.strip().splitlines()[-1])
        assert summary["samples"] >= 100 and summary["lost"] == 0
    finally:
        sim.terminate()
        sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()
