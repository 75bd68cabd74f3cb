"""The clip firmware's private-link rules (docs/protocol.md, version 2): the pairing window, the
grace for unencrypted hosts, the Security characteristic, and the whole of it behind bumble
against the real client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bumble.link import LocalLink
from fw_on_bumble import FirmwareOnBumble
from tiltmon_fw import profile as fw
from tiltmon_fw.pairing import UNKNOWN, LinkGuard, PairingWindow, encode_security

from firmware_sim import protocol as sim
from firmware_sim.radio import VirtualRadio
from monitor.errors import NotPairedError
from monitor.pairing import PairedSensors
from monitor.sensors import tiltmon as client
from monitor.transport.ble import BleTransport, ReconnectPolicy, pair_sensor
from monitor.transport.items import Notification

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
S = 1_000_000


def test_the_window_opens_at_power_up_and_on_a_press_and_a_pairing_closes_it() -> None:
    window = PairingWindow(now_us=5 * S, length_us=120 * S)
    assert window.is_open(5 * S) and window.is_open(124 * S) and not window.is_open(125 * S)
    window.press(200 * S)
    assert window.is_open(319 * S) and not window.is_open(320 * S)
    window.paired()
    assert not window.is_open(201 * S)


def test_an_unencrypted_host_goes_after_the_grace_time_outside_the_window() -> None:
    guard = LinkGuard(grace_us=10 * S)
    assert not guard.should_drop(100 * S, encrypted=False, window_open=False)  # not connected
    guard.connected(100 * S)
    assert not guard.should_drop(109 * S, encrypted=False, window_open=False)
    assert guard.should_drop(110 * S, encrypted=False, window_open=False)
    assert not guard.should_drop(110 * S, encrypted=True, window_open=False)
    assert not guard.should_drop(110 * S, encrypted=False, window_open=True)
    guard.disconnected()
    assert not guard.should_drop(200 * S, encrypted=False, window_open=False)


def test_the_security_characteristic_matches_the_document_and_both_other_sides() -> None:
    assert fw.SECURITY_UUID == client.SECURITY_UUID == sim.SECURITY_UUID
    assert fw.SECURITY_UUID in DOC
    for example, args in (
        ("02 03 00 02", (True, False, 0, 2)),
        ("02 05 01 02", (False, True, 1, 2)),
    ):
        assert example in DOC
        window_open, bonded, bonds, most = args
        built = encode_security(window_open, bonded, bonds, most)
        assert built.hex(" ") == example
        assert built == sim.encode_security(
            window_open=window_open, link_bonded=bonded, bonds=bonds, max_bonds=most
        )
        decoded = client.decode_security(built)
        assert (decoded.required, decoded.window_open, decoded.link_bonded) == (
            True,
            window_open,
            bonded,
        )
    unknown = client.decode_security(encode_security(False, True))
    assert (unknown.bonds, unknown.max_bonds) == (UNKNOWN, UNKNOWN)


async def payloads(transport: BleTransport, count: int) -> list[bytes]:
    got: list[bytes] = []
    async with transport, asyncio.timeout(30):
        async for item in transport:
            if isinstance(item, Notification):
                got.append(item.payload)
                if len(got) == count:
                    break
    return got


POLICY = ReconnectPolicy(first_delay_s=0.1, max_delay_s=0.5, scan_timeout_s=3.0, watchdog_s=2.0)


@pytest.mark.slow
async def test_the_firmware_core_pairs_streams_privately_and_refuses_a_stranger(
    tmp_path: Path,
) -> None:
    link = LocalLink()
    firmware = FirmwareOnBumble(link, private=True)
    await firmware.start()
    paired = PairedSensors(tmp_path / "paired.json")
    try:
        async with VirtualRadio(link=link) as stranger:
            transport = BleTransport(
                None,
                protocols=["tiltmon"],
                policy=POLICY,
                scanner_backend=stranger.scanner_backend,
                client_backend=stranger.client_backend,
            )
            with pytest.raises(NotPairedError, match="pairing window"):
                await payloads(transport, 3)
        async with VirtualRadio(link=link) as owner:
            result = await pair_sensor(
                None,
                seconds=1.0,
                paired=paired,
                scanner_backend=owner.scanner_backend,
                client_backend=owner.client_backend,
            )
            assert result.private and not firmware.window.is_open(firmware.now_us())
            transport = BleTransport(
                None,
                protocols=["tiltmon"],
                policy=POLICY,
                scanner_backend=owner.scanner_backend,
                client_backend=owner.client_backend,
                paired=paired,
            )
            received = await payloads(transport, 3)
            assert received == firmware.sent.packets[:3]
        async with VirtualRadio(link=link) as late:
            with pytest.raises(NotPairedError, match="paired with another computer"):
                await pair_sensor(
                    None,
                    seconds=1.0,
                    scanner_backend=late.scanner_backend,
                    client_backend=late.client_backend,
                )
    finally:
        await firmware.stop()
