"""The contracts: the tiltmon profile's bytes (docs/protocol.md, both sides against its
byte-exact examples), and what every transport must do for every wire protocol.

The transport contract (the second half) runs the user's command, ``tiltmon stream --json``,
once per protocol through each transport and states the same promises for all of them:

- **radio**: the simulated sensor in process, bleak over firmware_sim's virtual radio (tier A);
- **bluez**: the same sensor reached through real BlueZ in a VM (tier B, ``-m bluez``; the runs
  come from the session's one VM boot, see tests/bluez);
- **replay** / **replay-bluez**: ``tiltmon replay`` of what those runs recorded.

Per protocol, tests/sensors/test_protocol_suite.py checks in process that a replay decodes to
the very same samples; here the numbers a user sees are held to account.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluez.scenarios import ARRIVAL_JITTER_S, LAG_S, STREAMS

from firmware_sim import protocol as fw
from firmware_sim.models import MODELS
from monitor import codec
from monitor.sensors import protocol
from monitor.sensors.base import Timing

DOC = Path(__file__).parents[1] / "docs" / "protocol.md"

GYRO_PACKET = bytes.fromhex(
    "01 05 2a 00 40 42 0f 00 02"
    " 00 00 00 00 00 10 0a 00 ec ff 00 00"
    " 33 ff 29 00 04 10 ff 7f 00 00 fd ff"
)
ACC_ONLY_PACKET = bytes.fromhex("01 00 ff ff f0 ff ff ff 01 64 00 9c ff 00 10")
CONFIG = bytes.fromhex("01 01 64 00 08 f4 01 13 03")


def test_examples_are_the_ones_in_the_document() -> None:
    text = DOC.read_text()
    for example in (GYRO_PACKET, ACC_ONLY_PACKET, CONFIG):
        assert example.hex(" ") in text


def test_both_sides_use_the_same_uuids() -> None:
    for name in ("IMU_SERVICE_UUID", "IMU_DATA_UUID", "CONFIG_UUID", "CONTROL_POINT_UUID"):
        uuid = getattr(codec, name)
        assert uuid == getattr(fw, name)
        assert uuid in DOC.read_text()
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", uuid)
    assert codec.BATTERY_LEVEL_UUID == fw.BATTERY_LEVEL_UUID
    assert codec.DEVICE_INFO_UUIDS["serial"] == fw.SERIAL_NUMBER_UUID


def test_gyro_packet_example_decodes_to_documented_values() -> None:
    packet = codec.decode_imu_packet(GYRO_PACKET)
    config = codec.decode_config(CONFIG)
    assert (packet.sequence, packet.timestamp_us, packet.sample_count) == (42, 1_000_000, 2)
    assert not packet.acc_saturated and packet.gyr_saturated
    np.testing.assert_allclose(
        packet.acc_counts * config.acc_scale,
        [[0, 0, 9.80665], [-0.490811, 0.098162, 9.816227]],
        atol=5e-7,
    )
    assert packet.gyr_counts is not None
    np.testing.assert_allclose(
        packet.gyr_counts * config.gyr_scale,
        [[0.002663, -0.005326, 0], [8.726380, 0, -0.000799]],
        atol=5e-7,
    )


def test_acc_only_example_decodes() -> None:
    packet = codec.decode_imu_packet(ACC_ONLY_PACKET)
    assert packet.gyr_counts is None
    assert (packet.sequence, packet.timestamp_us) == (0xFFFF, 0xFFFFFFF0)
    np.testing.assert_array_equal(packet.acc_counts, [[100, -100, 4096]])


def test_config_example_decodes() -> None:
    config = codec.decode_config(CONFIG)
    assert config == codec.SensorConfig(
        rate_hz=100,
        acc_range_g=8,
        gyr_range_dps=500,
        streaming=True,
        samples_per_packet=19,
        has_gyro=True,
    )


def test_firmware_encoder_produces_the_examples() -> None:
    acc = np.array([[0, 0, 4096], [-205, 41, 4100]], dtype=np.int16)
    gyr = np.array([[10, -20, 0], [32767, 0, -3]], dtype=np.int16)
    assert fw.encode_imu_packet(42, 1_000_000, acc, gyr) == GYRO_PACKET
    acc_only = np.array([[100, -100, 4096]], dtype=np.int16)
    assert fw.encode_imu_packet(0xFFFF, 0xFFFFFFF0, acc_only, None) == ACC_ONLY_PACKET
    assert (
        fw.encode_config(
            fw.SensorConfig(
                rate_hz=100, acc_range_g=8, gyr_range_dps=500, streaming=True, samples_per_packet=19
            )
        )
        == CONFIG
    )


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (codec.encode_set_rate(200), codec.Status.SUCCESS),
        (bytes.fromhex("03 c9 00"), codec.Status.INVALID_PARAMETER),
        (bytes.fromhex("03 c8"), codec.Status.MALFORMED),
        (bytes.fromhex("7f"), codec.Status.OPCODE_NOT_SUPPORTED),
    ],
)
def test_control_requests_and_responses(request_bytes: bytes, status: codec.Status) -> None:
    response = fw.encode_control_response(request_bytes[0], fw.Status(status))
    decoded = codec.decode_control_response(response)
    assert decoded.opcode == request_bytes[0]
    assert decoded.status is status
    assert response.hex(" ") in DOC.read_text()


def test_batch_size_follows_the_mtu() -> None:
    assert fw.samples_per_packet(247) == 19
    assert 9 + 19 * 12 <= 247 - 3
    assert fw.samples_per_packet(23) == 1
    assert fw.samples_per_packet(517) == 42


# --- What every transport must do, for every protocol ----------------------------------------

RADIO_SECONDS = 10
RADIO_DISCONNECT_EVERY_S = 4  # the radio runs include link drops: gaps must be counted
REPLAY_OF = {"replay": "radio", "replay-bluez": "bluez"}  # the live run whose recording it plays


@dataclass(frozen=True, slots=True)
class Run:
    """What one ``tiltmon stream --json`` run reported, and what its sensor's firmware did."""

    summary: dict[str, Any]
    firmware: dict[str, Any]
    returncode: int | None
    stderr: str
    recording: Path | None
    sensor_left_idle: bool  # the client closed the link when it ended


def cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_json(stdout: str) -> dict[str, Any]:
    lines = stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


class Runs:
    """The live runs, made on first use and shared by the tests of a session."""

    def __init__(self, request: pytest.FixtureRequest, directory: Path) -> None:
        self._request = request
        self._directory = directory
        self._cache: dict[tuple[str, str], Run] = {}

    def live(self, transport: str, model: str) -> Run:
        key = (transport, model)
        if key not in self._cache:
            self._cache[key] = self._radio(model) if transport == "radio" else self._bluez(model)
        return self._cache[key]

    def _radio(self, model: str) -> Run:
        recording = self._directory / f"radio-{model}.tiltmon"
        done = cli(
            "stream",
            "--sim",
            "--sim-model",
            model,
            "--sim-disconnect-every",
            str(RADIO_DISCONNECT_EVERY_S),
            "--seconds",
            str(RADIO_SECONDS),
            "--json",
            "--record",
            str(recording),
            timeout=RADIO_SECONDS + 120,
        )
        summary = last_json(done.stdout) if done.returncode == 0 else {}
        # The simulated sensor lives in the CLI's process: it ends with the run.
        return Run(
            summary,
            summary.get("firmware", {}),
            done.returncode,
            done.stderr,
            recording,
            sensor_left_idle=done.returncode == 0,
        )

    def _bluez(self, model: str) -> Run:
        results: dict[str, Any] = self._request.getfixturevalue("bluez_results")
        result = results["scenarios"].get(model)
        if result is None:
            pytest.fail(f"the BlueZ VM reported no run of {model}: {results.get('incomplete')}")
        out = Path(results["out"])
        return Run(
            result.get("output") or {},
            result["firmware"],
            result["returncode"],
            result["stderr"],
            out / result["recording"] if result.get("recording") else None,
            sensor_left_idle=bool(result.get("closed_by_client")),
        )


@pytest.fixture(scope="session")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(request, tmp_path_factory.mktemp("transport-contract"))


BLUEZ_MODELS = {scenario.model for scenario in STREAMS}


def transport_params(*transports: str) -> list[Any]:
    params = []
    for transport in transports:
        marks = [pytest.mark.slow]
        if "bluez" in transport:
            marks.append(pytest.mark.bluez)
        # Through BlueZ, the models the VM streams (tests/bluez/scenarios.py: the emulated guest
        # is slow, so the newest vendor models are held to this contract on the virtual radio).
        models = sorted(MODELS) if "bluez" not in transport else sorted(BLUEZ_MODELS)
        for model in models:
            params.append(pytest.param(transport, model, marks=marks, id=f"{transport}-{model}"))
    return params


def gap_estimate_slack(model: str, summary: dict[str, Any]) -> int:
    """How far a protocol's gap lengths may be off: nothing when packets carry the sensor's
    clock or a counter; when samples are placed by arrival, each gap's length is estimated
    from the host clock, within ARRIVAL_JITTER_S (tests/bluez/scenarios.py)."""
    if protocol(MODELS[model].protocol).timing is not Timing.ARRIVAL:
        return 0
    return summary["gaps"] * math.ceil(ARRIVAL_JITTER_S * summary["configured_rate_hz"])


def in_flight(run: Run) -> int:
    """Samples the stack may still hold when a run ends: LAG_S of data, at least a notification."""
    per_notification = -(-run.firmware["samples_sent"] // max(1, run.firmware["packets_sent"]))
    return max(int(LAG_S * run.summary["configured_rate_hz"]), per_notification)


@pytest.mark.parametrize(("transport", "model"), transport_params("radio", "bluez"))
def test_a_transport_delivers_every_sample_once_counts_gaps_and_closes_cleanly(
    runs: Runs, transport: str, model: str
) -> None:
    run = runs.live(transport, model)
    # Clean close: the command ended by itself, without a traceback, and let the sensor go.
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.sensor_left_idle
    summary, firmware = run.summary, run.firmware
    assert summary["protocol"] == MODELS[model].protocol
    assert summary["configured_rate_hz"] in MODELS[model].rates_hz
    # Delivered: what the sensor sent arrived, all but what was still on its way at the end.
    sent = firmware["samples_sent"]
    assert sent > 0 and summary["samples"] <= sent
    assert summary["samples"] >= 0.995 * (sent - in_flight(run))
    # Once each, and nothing garbled.
    assert summary["duplicates"] == summary["malformed"] == 0
    # Gaps counted: the sensor's timeline is accounted for, every sample delivered or lost.
    accounted = summary["samples"] + summary["lost"]
    spanned = firmware["samples_spanned"]
    slack = gap_estimate_slack(model, summary)
    assert spanned - in_flight(run) - slack <= accounted <= spanned + slack
    # Every dropped link came back (the last drop may fall on the deadline); under load a
    # connection the client gave up on while it was being made counts at the sensor only.
    assert firmware["disconnects_caused"] - 1 <= summary["reconnects"]
    assert summary["reconnects"] <= firmware["connections"] - 1
    if firmware["disconnects_caused"]:
        assert summary["lost"] > 0 and summary["gaps"] >= firmware["disconnects_caused"]


@pytest.mark.parametrize(("transport", "model"), transport_params("replay", "replay-bluez"))
def test_a_replay_reports_what_the_live_run_saw(runs: Runs, transport: str, model: str) -> None:
    live = runs.live(REPLAY_OF[transport], model)
    assert live.recording is not None and live.recording.exists(), live.stderr[-2000:]
    done = cli("replay", str(live.recording), "--headless", "--json", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    replayed = last_json(done.stdout)
    assert replayed["complete"]  # the live run closed its recording properly
    for field in ("lost", "gaps", "duplicates", "malformed", "reconnects"):
        assert replayed[field] == live.summary[field], field
    # The recording may also hold what arrived as the live run hit its deadline.
    assert live.summary["samples"] <= replayed["samples"]
    assert replayed["samples"] <= live.summary["samples"] + in_flight(live)
    assert replayed["rate_hz"] == live.summary["configured_rate_hz"]
