"""`tiltmon pair` on the command line, against simulated private-link sensors."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest


def tiltmon(*args: str, data: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    # Each test keeps its own data directory: a paired sensor restricts later connections.
    env = {**os.environ, "TILTMON_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,  # not a terminal: nothing is asked, a missing passkey is said
    )


@pytest.mark.slow
def test_pair_sim_pairs_the_simulated_sensor(tmp_path: Path) -> None:
    result = tiltmon("pair", "--sim", "--seconds", "1", data=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "paired with the simulated sensor tiltmon" in result.stdout
    assert "encrypted" in result.stdout
    listed = tiltmon("pair", "--list", data=tmp_path)
    assert "not paired with any sensor" in listed.stdout  # the in-process sim is not kept


@pytest.mark.slow
def test_pair_sim_with_the_passkey_on_its_label(tmp_path: Path) -> None:
    pair = ("pair", "--sim", "--seconds", "1", "--sim-passkey", "482913")
    right = tiltmon(*pair, "--passkey", "482 913", data=tmp_path)
    assert right.returncode == 0, right.stderr
    assert "encrypted" in right.stdout

    wrong = tiltmon(*pair, "--passkey", "111111", data=tmp_path)
    assert wrong.returncode == 1
    assert "did not accept the passkey" in wrong.stderr and "Traceback" not in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1

    none = tiltmon(*pair, data=tmp_path)  # piped: no prompt
    assert none.returncode == 1
    assert "asks for the 6-digit passkey" in none.stderr and "--passkey" in none.stderr

    bad = tiltmon(*pair, "--passkey", "12345", data=tmp_path)
    assert bad.returncode == 2 and "a passkey is the 6 digits" in bad.stderr


def test_forgetting_an_unknown_sensor_says_so(tmp_path: Path) -> None:
    result = tiltmon("pair", "--forget", "AA:BB:CC:DD:EE:FF", data=tmp_path)
    assert result.returncode == 1 and "not paired with AA:BB:CC:DD:EE:FF" in result.stdout


@pytest.mark.slow
def test_pair_then_stream_across_processes_and_a_refusal_in_plain_words(tmp_path: Path) -> None:
    env = {**os.environ, "TILTMON_DATA_DIR": str(tmp_path / "sim")}
    sim = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "sim", "--seed", "3"],  # version 2 by default
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert sim.stdout is not None
        spec = re.search(r"tcp-client:127\.0\.0\.1:\d+", sim.stdout.readline())
        assert spec is not None
        radio = spec.group(0)
        stream = ("stream", "--radio", radio, "--seconds", "2", "--json", "--no-record")
        refused = tiltmon(*stream, data=tmp_path)
        assert refused.returncode == 1
        assert "keeps its data for the computer it is paired with" in refused.stderr
        assert "tiltmon pair" in refused.stderr and "Traceback" not in refused.stderr

        paired = tiltmon("pair", "--radio", radio, "--seconds", "1", data=tmp_path)
        assert paired.returncode == 0, paired.stderr
        assert "its link is encrypted" in paired.stdout
        for name in ("paired-sensors.json", "virtual-radio-bonds.json"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600

        streamed = tiltmon(*stream, data=tmp_path)
        assert streamed.returncode == 0, streamed.stderr
        summary = json.loads(streamed.stdout.strip().splitlines()[-1])
        assert summary["samples"] >= 100 and summary["lost"] == 0

        # Another computer (its own data directory, so its own radio identity and no bond).
        other = tiltmon("pair", "--radio", radio, "--seconds", "1", data=tmp_path / "other")
        assert other.returncode == 1
        assert "paired with another computer" in other.stderr
    finally:
        sim.terminate()
        sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()


@pytest.mark.slow
def test_pair_asks_for_the_passkey_at_the_terminal(tmp_path: Path) -> None:
    """No --passkey, at a terminal: the prompt appears when the sensor asks for one."""
    import pty
    import select
    import time

    main, terminal = pty.openpty()
    argv = ["pair", "--sim", "--seconds", "1", "--sim-passkey", "482913"]
    child = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", *argv],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TILTMON_DATA_DIR": str(tmp_path)},
        start_new_session=True,
    )
    os.close(terminal)
    out = b""

    def read_until(text: bytes, seconds: float) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while text not in out and time.monotonic() < end:
            if select.select([main], [], [], 0.2)[0]:
                try:
                    out += os.read(main, 4096)
                except OSError:  # the child closed the terminal
                    return

    try:
        read_until(b"6-digit passkey on its label: ", 60)
        assert b"6-digit passkey on its label: " in out, out
        os.write(main, b"482 913\n")
        read_until(b"encrypted", 60)
        assert b"paired with the simulated sensor" in out and b"encrypted" in out, out
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        os.close(main)
