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
from bluez.scenarios import (
    ARRIVAL_JITTER_S,
    ATT_INSUFFICIENT_AUTHENTICATION,
    ATT_INSUFFICIENT_ENCRYPTION,
    LAG_S,
    PRIVATE_LINK,
    PRIVATE_STREAM_SECONDS,
    STREAMS,
    StreamScenario,
)

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


# --- the private link (docs/protocol.md, version 2; docs/reliability.md, threat model) -----

ATT_READ_REQUEST = 0x0A
ATT_WRITE_REQUEST = 0x12


def private_step(results: dict[str, Any], step: str) -> dict[str, Any]:
    private = results["scenarios"].get(PRIVATE_LINK)
    assert private is not None, results.get("incomplete", "no private-link result")
    assert step in private["steps"], private.get("error") or f"the story stopped before {step}"
    outcome: dict[str, Any] = private["steps"][step]
    assert "Traceback" not in outcome["stderr"], outcome["stderr"]
    assert outcome.get("error") is None, outcome.get("error")  # timed out: it kept retrying
    return outcome


def refusals_sent(step: dict[str, Any]) -> set[tuple[int, int]]:
    """(request opcode, ATT error) of the sensor's security refusals that reached the kernel."""
    security = {ATT_INSUFFICIENT_AUTHENTICATION, ATT_INSUFFICIENT_ENCRYPTION}
    return {(e["request"], e["code"]) for e in step["att_errors"] if e["code"] in security}


def one_line_refusal(step: dict[str, Any]) -> str:
    """A refused command ends with one line saying why and what to do, and exit status 1."""
    assert step["returncode"] == 1, step["stderr"]
    lines = step["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tiltmon: "), step["stderr"]
    assert "tiltmon pair" in lines[0], lines[0]
    return lines[0]


def test_an_unbonded_host_can_neither_read_imu_data_nor_write_the_control_point(
    bluez_results: dict[str, Any],
) -> None:
    step = private_step(bluez_results, "unbonded-probe")
    probe, firmware = step["output"], step["firmware"]
    # A plain bleak client: both refused.
    assert probe["read_imu"]["ok"] is False and probe["write_control"]["ok"] is False, probe
    # On the wire the sensor answered Insufficient Authentication to both.
    assert {(ATT_READ_REQUEST, 5), (ATT_WRITE_REQUEST, 5)} <= refusals_sent(step)
    # BlueZ then tried to pair by itself (the Core spec's cue), and the sensor, its window
    # closed, refused; nothing was bonded on either side and no sample left the sensor.
    assert firmware["pairings_refused"] >= 1 and firmware["pairings"] == 0
    assert firmware["access_refused"] >= 2 and firmware["samples_sent"] == 0
    assert step["bonded_hosts"] == 0 and not step["bluez"]["Paired"]


def test_an_unpaired_stream_says_so_in_one_line_instead_of_retrying(
    bluez_results: dict[str, Any],
) -> None:
    step = private_step(bluez_results, "unbonded-stream")
    assert "paired with" in one_line_refusal(step)
    assert (ATT_READ_REQUEST, 5) in refusals_sent(step)
    # One try: the refusal is not link trouble to retry (through BlueZ it arrives as one).
    assert step["firmware"]["connections"] == 1
    assert step["firmware"]["samples_sent"] == 0


def test_pairing_outside_the_window_is_refused_with_a_clear_line(
    bluez_results: dict[str, Any],
) -> None:
    step = private_step(bluez_results, "pair-window-closed")
    assert "pairing window is closed" in one_line_refusal(step)
    assert step["firmware"]["pairings"] == 0 and step["firmware"]["pairings_refused"] >= 1
    assert step["bonded_hosts"] == 0 and not step["bluez"]["Paired"]


def test_tiltmon_pair_bonds_through_bluez_inside_the_window(
    bluez_results: dict[str, Any],
) -> None:
    step = private_step(bluez_results, "pair")
    assert step["returncode"] == 0, step["stderr"]
    assert "its link is encrypted" in step["stdout"]
    # Bonded on both sides: the sensor remembers this host, bluetoothd keeps the keys.
    assert step["firmware"]["pairings"] == 1 and step["bonded_hosts"] == 1
    assert step["bluez"] == {"Paired": True, "Bonded": True}
    assert {"status": 0, "enabled": 1} in step["encryption"]


def test_the_paired_host_streams_over_the_encrypted_link(bluez_results: dict[str, Any]) -> None:
    step = private_step(bluez_results, "stream")
    assert step["returncode"] == 0, step["stderr"]
    summary, firmware = step["output"], step["firmware"]
    # Encrypted with the bond from the pairing: no new pairing, no refusal left unanswered.
    assert {"status": 0, "enabled": 1} in step["encryption"]
    assert firmware["pairings"] == 0 and firmware["connections"] == 1
    # Streamed like any sensor (test_a_sensor_is_configured_and_streams_every_sample).
    sent = firmware["samples_sent"]
    assert sent >= (PRIVATE_STREAM_SECONDS - LAG_S) * summary["configured_rate_hz"] * 0.9
    assert summary["samples"] >= 0.995 * (sent - in_flight(step))
    assert summary["duplicates"] == summary["malformed"] == summary["lost"] == 0
    assert step["closed_by_client"]


def test_a_look_alike_of_the_paired_sensor_gets_no_connection(
    bluez_results: dict[str, Any],
) -> None:
    private = bluez_results["scenarios"][PRIVATE_LINK]
    step = private_step(bluez_results, "spoof")
    spoof = private["spoof_address"]
    # BlueZ heard it advertising the paired sensor's name and service all along...
    assert step["adverts"].get(spoof, 0) >= 10, step["adverts"]
    # ...and tiltmon, paired with the real one, never connected to it: it kept looking for
    # its own sensor until stopped (SIGTERM: a clean close, exit 143), with nothing streamed.
    assert step["firmware"]["connections"] == 0
    assert step["returncode"] == 143, step["stderr"]
    assert step["output"]["samples"] == 0


def test_a_removed_bond_is_refused_in_one_line_then_recovered_by_pairing_again(
    bluez_results: dict[str, Any],
) -> None:
    private = bluez_results["scenarios"][PRIVATE_LINK]
    assert private["bond_removed"]["returncode"] == 0, private["bond_removed"]["output"]
    removed = private_step(bluez_results, "bond-removed-stream")
    # tiltmon still lists the sensor, bluetoothd no longer has the keys: the sensor, its
    # window closed, refuses the new pairing; the stream says so once and stops.
    assert "lost the bond" in one_line_refusal(removed)
    assert removed["firmware"]["pairings_refused"] >= 1 and removed["firmware"]["pairings"] == 0
    assert removed["firmware"]["connections"] == 1 and removed["firmware"]["samples_sent"] == 0
    # Inside the window, `tiltmon pair` bonds again, on both sides.
    again = private_step(bluez_results, "re-pair")
    assert again["returncode"] == 0, again["stderr"]
    assert "its link is encrypted" in again["stdout"]
    assert again["firmware"]["pairings"] == 1 and again["bonded_hosts"] == 1
    assert again["bluez"] == {"Paired": True, "Bonded": True}
