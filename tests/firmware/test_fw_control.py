"""The clip firmware's control point against docs/protocol.md's rules and the client's codec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiltmon_fw import control
from tiltmon_fw.control import ControlPoint, Settings

from monitor import codec
from monitor.sensors.tiltmon import Status


def answer(cp: ControlPoint, request: str, mtu: int = 247) -> tuple[str, int]:
    response, action = cp.handle(bytes.fromhex(request), mtu)
    return response.hex(" "), action


def streaming() -> ControlPoint:
    cp = ControlPoint(Settings())
    assert answer(cp, "01") == ("80 01 00", control.START)
    return cp


def test_the_documents_examples() -> None:
    cp = ControlPoint(Settings())
    assert answer(cp, "03 c8 00") == ("80 03 00", control.RECONFIGURE)
    assert cp.settings.rate_hz == 200
    assert answer(cp, "03 c9 00") == ("80 03 02", control.NOTHING)
    assert answer(cp, "03 c8") == ("80 03 04", control.NOTHING)
    assert answer(cp, "7f") == ("80 7f 01", control.NOTHING)
    cp = streaming()
    assert answer(cp, "03 c8 00") == ("80 03 03", control.NOTHING)  # only while idle
    assert cp.settings.rate_hz == 100


def test_client_encoded_requests_are_understood() -> None:
    cp = ControlPoint(Settings())
    for request in (codec.encode_set_rate(50), codec.encode_set_ranges(16, 2000)):
        response, _ = cp.handle(request, 247)
        assert codec.decode_control_response(response).status is Status.SUCCESS
    assert (cp.settings.rate_hz, cp.settings.acc_range_g, cp.settings.gyr_range_dps) == (
        50,
        16,
        2000,
    )


def test_start_fixes_the_batch_size_from_the_links_mtu() -> None:
    cp = ControlPoint(Settings())
    assert answer(cp, "01", mtu=185) == ("80 01 00", control.START)
    assert cp.settings.streaming and cp.settings.samples_per_packet == 14
    assert answer(cp, "01") == ("80 01 00", control.NOTHING)  # already streaming
    assert cp.settings.samples_per_packet == 14


def test_stop_and_a_lost_link_end_streaming() -> None:
    cp = streaming()
    assert answer(cp, "02") == ("80 02 00", control.STOP)
    assert not cp.settings.streaming
    assert answer(cp, "02") == ("80 02 00", control.NOTHING)
    cp = streaming()
    assert cp.link_lost() == control.STOP
    assert not cp.settings.streaming
    assert cp.link_lost() == control.NOTHING


@pytest.mark.parametrize(
    ("request_hex", "status"),
    [
        ("", "04"),
        ("01 00", "04"),
        ("02 00", "04"),
        ("04 08 f4", "04"),
        ("04 08 f4 01 00", "04"),
        ("04 03 f4 01", "02"),
        ("04 08 f5 01", "02"),
        ("03 00 00", "02"),
        ("05", "01"),
        ("80 01", "01"),
    ],
)
def test_bad_requests_get_their_status_and_change_nothing(request_hex: str, status: str) -> None:
    cp = ControlPoint(Settings())
    before = vars(cp.settings).copy()
    response, action = cp.handle(bytes.fromhex(request_hex), 247)
    assert response[2] == int(status, 16)
    assert action == control.NOTHING
    assert vars(cp.settings) == before


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=6), max_size=12))
def test_every_answer_decodes_and_settings_stay_valid(requests: list[bytes]) -> None:
    cp = ControlPoint(Settings())
    for request in requests:
        response, _ = cp.handle(request, 247)
        decoded = codec.decode_control_response(response)
        assert decoded.opcode == (request[0] if request else 0)
        s = cp.settings
        assert s.rate_hz in codec.SAMPLE_RATES_HZ
        assert s.acc_range_g in codec.ACC_RANGES_G
        assert s.gyr_range_dps in codec.GYR_RANGES_DPS
