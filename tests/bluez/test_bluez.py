"""Tier B: tiltmon through the real Linux Bluetooth stack (bleak's BlueZ backend, bluetoothd,
the kernel's HCI layer) to the simulated sensors, in a VM booted once per session.

The guest (guest.py) runs the user's commands, ``tiltmon scan`` and ``tiltmon stream --sensor
ADDRESS --json``; these tests read what it reported (the ``bluez_results`` fixture in
tests/conftest.py). What the transport contract asks of every transport, BlueZ included, is in
tests/test_protocol_contract.py; this file holds what only this tier can show.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from bluez.scenarios import ARRIVAL_JITTER_S, LAG_S, STREAMS, StreamScenario

from firmware_sim.models import MODELS
from monitor.sensors import protocol
from monitor.sensors.base import Timing

pytestmark = [pytest.mark.bluez, pytest.mark.slow]

CLEAN = [s for s in STREAMS if s.disconnect_every_s is None]
RECONNECTING = [s for s in STREAMS if s.disconnect_every_s is not None]


def scenario_result(results: dict[str, Any], name: str) -> dict[str, Any]:
    assert name in results["scenarios"], results.get("incomplete", f"no result for {name}")
    result: dict[str, Any] = results["scenarios"][name]
    assert result["returncode"] == 0, result.get("error") or result["stderr"]
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert isinstance(result.get("output"), dict | list), result["stderr"]
    return result


def in_flight(result: dict[str, Any]) -> int:
    """Samples the stack may still have held when the run ended: LAG_S of data, and at least
    one notification's worth."""
    firmware, summary = result["firmware"], result["output"]
    per_notification = -(-firmware["samples_sent"] // max(1, firmware["packets_sent"]))
    return max(int(LAG_S * summary["configured_rate_hz"]), per_notification)


def gap_estimate_slack(scenario: StreamScenario, summary: dict[str, Any]) -> int:
    """Samples a gap's estimated length may be off by: none when packets carry a counter or
    the sensor's clock; ARRIVAL_JITTER_S of samples per gap when placed by arrival."""
    if protocol(MODELS[scenario.model].protocol).timing is not Timing.ARRIVAL:
        return 0
    return summary["gaps"] * math.ceil(ARRIVAL_JITTER_S * summary["configured_rate_hz"])


def test_the_vm_runs_the_real_stack(bluez_results: dict[str, Any]) -> None:
    # Not the virtual radio: a kernel with Bluetooth and a bluetoothd, as a user's computer has.
    assert bluez_results["kernel"]
    assert bluez_results["bluez"].split(".")[0] == "5"
    assert bluez_results.get("complete"), bluez_results.get("incomplete")


def test_scan_finds_every_model_and_names_its_protocol(bluez_results: dict[str, Any]) -> None:
    result = scenario_result(bluez_results, "scan")
    found = {sensor["address"]: sensor for sensor in result["output"]}
    for address, advertised in result["advertised"].items():
        assert address in found, f"{advertised['name']} not found through BlueZ: {found}"
        assert found[address]["name"] == advertised["name"]
        assert found[address]["protocol"] == MODELS[advertised["model"]].protocol


@pytest.mark.parametrize("scenario", CLEAN, ids=lambda s: s.name)
def test_a_sensor_is_configured_and_streams_every_sample(
    bluez_results: dict[str, Any], scenario: StreamScenario
) -> None:
    result = scenario_result(bluez_results, scenario.name)
    summary, firmware = result["output"], result["firmware"]
    model = MODELS[scenario.model]
    # Configured: the protocol module set the sensor to the rate it can do nearest the one asked.
    assert summary["protocol"] == model.protocol
    assert summary["configured_rate_hz"] in model.rates_hz
    # The delivered rate is measured on the host's clock between the first and last arrival:
    # under emulation arrivals come in bursts, which moves a 15 s figure by up to a tenth or so.
    assert summary["rate_hz"] == pytest.approx(summary["configured_rate_hz"], rel=0.2)
    # Streamed: every sample the sensor sent arrived once, in order, none lost on the way.
    sent = firmware["samples_sent"]
    assert sent >= (scenario.seconds - LAG_S) * summary["configured_rate_hz"] * 0.9
    assert sent - summary["samples"] <= in_flight(result)
    assert summary["samples"] >= 0.995 * (sent - in_flight(result))
    assert summary["duplicates"] == summary["malformed"] == 0
    # Nothing lost: exactly, when packets say which samples they carry; placed by arrival, a
    # burst of late arrivals can look like a short gap.
    assert summary["lost"] <= gap_estimate_slack(scenario, summary)
    assert summary["reconnects"] == 0 and firmware["connections"] == 1
    # Closed: the client said goodbye, so the sensor is idle rather than streaming to no one.
    assert result["closed_by_client"]


def test_bluez_negotiates_a_large_att_mtu_and_the_sensor_batches_to_it(
    bluez_results: dict[str, Any],
) -> None:
    # The tiltmon firmware fits as many samples into a notification as the ATT MTU allows
    # (one at the default 23 bytes); bleak reports 23 on BlueZ, so check what crossed the link.
    firmware = scenario_result(bluez_results, "tiltmon")["firmware"]
    assert firmware["samples_built"] / firmware["packets_built"] >= 19  # an MTU of 247 or more


@pytest.mark.parametrize("scenario", RECONNECTING, ids=lambda s: s.name)
def test_a_dropped_link_is_reconnected_without_duplicates_and_the_gap_is_counted(
    bluez_results: dict[str, Any], scenario: StreamScenario
) -> None:
    result = scenario_result(bluez_results, scenario.name)
    summary, firmware = result["output"], result["firmware"]
    assert scenario.disconnect_every_s is not None
    # The sensor dropped the link every few seconds; the client came back each time.
    assert firmware["disconnects_caused"] >= scenario.seconds // scenario.disconnect_every_s - 1
    assert summary["reconnects"] >= firmware["disconnects_caused"] - 1 >= 1
    # Each sample once: a released BlueZ client leaves no notification session behind that
    # would deliver the next connection's packets twice.
    assert summary["duplicates"] == summary["malformed"] == 0
    sent = firmware["samples_sent"]
    assert summary["samples"] >= 0.995 * (sent - in_flight(result))
    # What the sensor's clock spanned while the link was down is reported as lost, not hidden.
    assert summary["lost"] > 0 and summary["gaps"] >= 1
    accounted = summary["samples"] + summary["lost"]
    slack = gap_estimate_slack(scenario, summary)
    assert firmware["samples_spanned"] - in_flight(result) - slack <= accounted
    assert accounted <= firmware["samples_spanned"] + slack
    assert result["closed_by_client"]
