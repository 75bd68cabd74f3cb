"""The private link (docs/protocol.md version 2; docs/reliability.md, threat model) on the
virtual radio: the simulated sensor's bonds and pairing window against the real client
(monitor.transport.ble on bleak on bumble), with the faults the issue lists."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError
from bumble.link import LocalLink

from firmware_sim import protocol as p
from firmware_sim.models import simulated_device_on_link
from firmware_sim.peripheral import Security, SimulatedPeripheral
from firmware_sim.radio import VirtualRadio
from monitor.errors import ConfigError, NotPairedError, SensorError, SensorNotFoundError
from monitor.pairing import PairedSensors
from monitor.sensors.tiltmon import decode_security
from monitor.transport.ble import BleTransport, ReconnectPolicy, pair_sensor
from monitor.transport.items import LinkEvent, LinkEventKind, Notification

POLICY = ReconnectPolicy(first_delay_s=0.1, max_delay_s=0.5, scan_timeout_s=3.0, watchdog_s=2.0)
INSUFFICIENT_AUTHENTICATION = 0x05


async def private_sensor(
    link: LocalLink, security: Security | None = None, *, name: str = "tiltmon"
) -> SimulatedPeripheral:
    security = security or Security()
    sensor = simulated_device_on_link(link, "desk_short", seed=2, security=security, name=name)
    assert isinstance(sensor, SimulatedPeripheral)
    await sensor.start()
    return sensor


@contextlib.asynccontextmanager
async def running_sensor(
    link: LocalLink, security: Security | None = None, *, name: str = "tiltmon"
) -> AsyncIterator[SimulatedPeripheral]:
    """A private-link sensor on the air for the block, switched off after it whatever happens."""
    sensor = await private_sensor(link, security, name=name)
    try:
        yield sensor
    finally:
        await sensor.stop()


@pytest.fixture
async def link() -> LocalLink:
    return LocalLink()  # made on the test's event loop (bumble's controller wants one)


async def packets_from(transport: BleTransport, count: int = 3) -> tuple[list[LinkEvent], int]:
    """Stream until ``count`` notifications arrived; the link events seen on the way."""
    events: list[LinkEvent] = []
    got = 0
    async with transport, asyncio.timeout(30):
        async for item in transport:
            if isinstance(item, LinkEvent):
                events.append(item)
            elif isinstance(item, Notification):
                got += 1
                if got >= count:
                    break
    return events, got


def transport(radio: VirtualRadio, paired: PairedSensors | None, **kw: object) -> BleTransport:
    return BleTransport(
        None,
        protocols=["tiltmon"],
        policy=POLICY,
        scanner_backend=radio.scanner_backend,
        client_backend=radio.client_backend,
        paired=paired,
        **kw,  # type: ignore[arg-type]
    )


async def pair(radio: VirtualRadio, paired: PairedSensors | None, target: str | None = None) -> str:
    result = await pair_sensor(
        target,
        seconds=1.0,
        paired=paired,
        scanner_backend=radio.scanner_backend,
        client_backend=radio.client_backend,
    )
    assert result.private
    return result.address


async def test_a_bonded_host_streams_and_reconnects_encrypted(
    link: LocalLink, tmp_path: Path
) -> None:
    paired = PairedSensors(tmp_path / "paired.json")
    async with running_sensor(link) as sensor, VirtualRadio(link=link) as radio:
        address = await pair(radio, paired)
        assert address in paired and sensor.counters.pairings == 1
        assert sensor.bonded_hosts == [str(radio.address)]
        assert not sensor.pairing_window_open  # one pairing per window
        # Later: the window is closed, the bond is what lets this host in.
        events, got = await packets_from(transport(radio, paired))
        assert got == 3
        assert LinkEventKind.CONFIGURED in [e.kind for e in events]
        assert sensor.counters.pairings == 1  # encrypted with the bond, not paired again


async def test_an_unbonded_host_reads_battery_but_neither_imu_data_nor_the_control_point(
    link: LocalLink,
) -> None:
    async with running_sensor(link) as sensor, VirtualRadio(link=link) as radio:
        device = await BleakScanner.find_device_by_filter(
            lambda _d, _a: True,
            service_uuids=[p.IMU_SERVICE_UUID],
            timeout=3,
            backend=radio.scanner_backend,
        )
        assert device is not None
        async with BleakClient(device, backend=radio.client_backend) as client:
            security = decode_security(await client.read_gatt_char(p.SECURITY_UUID))
            assert security.required and security.window_open and not security.link_bonded
            assert (await client.read_gatt_char(p.BATTERY_LEVEL_UUID))[0] == 87
            assert await client.read_gatt_char(p.SERIAL_NUMBER_UUID) == b"SIM-0002"
            for uuid in (p.CONFIG_UUID, p.IMU_DATA_UUID):
                with pytest.raises(BleakGATTProtocolError) as refused:
                    await client.read_gatt_char(uuid)
                assert refused.value.code == INSUFFICIENT_AUTHENTICATION
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.write_gatt_char(p.CONTROL_POINT_UUID, b"\x01", response=True)
            assert refused.value.code == INSUFFICIENT_AUTHENTICATION
            assert not sensor.config.streaming
            assert sensor.counters.access_refused == 3


@pytest.mark.slow
async def test_the_client_says_so_and_stops_when_the_window_is_closed(link: LocalLink) -> None:
    async with (
        running_sensor(link, Security(pairing_window_s=0)) as sensor,
        VirtualRadio(link=link) as radio,
    ):
        # As `tiltmon stream` would: not allowed to pair by itself.
        with pytest.raises(NotPairedError, match="pairing window"):
            await packets_from(transport(radio, None))
        # As the first-use flow would: pairs, and the sensor refuses.
        with pytest.raises(NotPairedError, match="paired with another computer"):
            await packets_from(transport(radio, None, pair_first_use=True))
        assert sensor.counters.pairings_refused >= 1
        assert sensor.counters.connections == 2  # one try each, no retry loop


@pytest.mark.slow
async def test_a_second_host_is_refused_and_cannot_hold_the_sensor(link: LocalLink) -> None:
    async with running_sensor(link, Security(unpaired_grace_s=0.5)) as sensor:
        async with VirtualRadio(link=link) as owner:
            await pair_sensor(
                None,
                seconds=1.0,
                scanner_backend=owner.scanner_backend,
                client_backend=owner.client_backend,
            )
        async with VirtualRadio(link=link) as stranger:
            with pytest.raises(NotPairedError, match="paired with another computer"):
                await pair_sensor(
                    None,
                    seconds=1.0,
                    scanner_backend=stranger.scanner_backend,
                    client_backend=stranger.client_backend,
                )
            # Connected without pairing, the stranger is dropped after the grace time.
            device = await BleakScanner.find_device_by_filter(
                lambda _d, _a: True, timeout=3, backend=stranger.scanner_backend
            )
            assert device is not None
            lost = asyncio.Event()
            client = BleakClient(
                device, backend=stranger.client_backend, disconnected_callback=lambda _c: lost.set()
            )
            await client.connect()
            async with asyncio.timeout(5):
                await lost.wait()
            assert sensor.counters.unpaired_links_dropped == 1
        assert len(sensor.bonded_hosts) == 1


@pytest.mark.slow
async def test_a_sensor_that_lost_its_bond_is_recovered_by_pairing_again(
    link: LocalLink, tmp_path: Path
) -> None:
    paired = PairedSensors(tmp_path / "paired.json")
    async with running_sensor(link) as sensor, VirtualRadio(link=link) as radio:
        await pair(radio, paired)
        await sensor.forget_bonds()  # a reset wiped the sensor's bonds
        with pytest.raises(NotPairedError, match="lost the bond"):
            await packets_from(transport(radio, paired))
        sensor.open_pairing_window()  # the wearer presses the button
        await pair(radio, paired)  # our stale keys are forgotten, a fresh bond made
        _, got = await packets_from(transport(radio, paired))
        assert got == 3 and sensor.counters.pairings == 2


@pytest.mark.slow
async def test_a_host_that_lost_its_bond_pairs_again_in_the_window(
    link: LocalLink, tmp_path: Path
) -> None:
    # A fixed address, so that the wiped host still finds it and hears the refusal (with
    # private addresses it cannot recognise it at all: the next test).
    paired = PairedSensors(tmp_path / "paired.json")
    keys = tmp_path / "keys.json"
    async with running_sensor(link, Security(private_address=False)) as sensor:
        async with VirtualRadio(link=link, keystore=keys) as radio:
            await pair(radio, paired)
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        stored = json.loads(keys.read_text())
        assert list(stored) == [str(radio.address)] and stored[str(radio.address)]
        # The same computer again, its keys intact: encrypted with the bond.
        async with VirtualRadio(link=link, keystore=keys) as radio:
            _, got = await packets_from(transport(radio, paired))
            assert got == 3
        keys.unlink()  # this computer's key store wiped; the record still names the sensor
        async with VirtualRadio(link=link, keystore=keys) as radio:
            with pytest.raises(NotPairedError, match="refused this computer"):
                await packets_from(transport(radio, paired))
            sensor.open_pairing_window()
            await pair(radio, paired)
            _, got = await packets_from(transport(radio, paired))
            assert got == 3
        assert len(sensor.bonded_hosts) == 2  # the old identity is still remembered


@pytest.mark.slow
async def test_a_host_that_lost_its_keys_no_longer_recognises_its_private_sensor(
    link: LocalLink, tmp_path: Path
) -> None:
    paired = PairedSensors(tmp_path / "paired.json")
    keys = tmp_path / "keys.json"
    async with running_sensor(link) as sensor:
        async with VirtualRadio(link=link, keystore=keys) as radio:
            identity = await pair(radio, paired)
        keys.unlink()  # the identity key went with the rest: its private addresses are noise
        async with VirtualRadio(link=link, keystore=keys) as radio:
            gone = BleTransport(
                None,
                protocols=["tiltmon"],
                policy=dataclasses.replace(POLICY, max_attempts=1),
                scanner_backend=radio.scanner_backend,
                client_backend=radio.client_backend,
                paired=paired,
            )
            with pytest.raises(SensorNotFoundError, match="no sensor tiltmon knows"):
                await packets_from(gone)
            sensor.open_pairing_window()  # the wearer presses the button
            assert await pair(radio, paired) == identity  # recorded by identity, not the RPA
            assert paired.addresses("tiltmon") == {identity}
            _, got = await packets_from(transport(radio, paired))
            assert got == 3


@pytest.mark.slow
async def test_the_sensor_keeps_at_most_its_bond_limit(link: LocalLink) -> None:
    async with (
        running_sensor(link, Security(max_bonds=1)) as sensor,
        VirtualRadio(link=link) as first,
    ):
        await pair(first, None)
        sensor.open_pairing_window()
        async with VirtualRadio(link=link) as second:
            await pair(second, None)
            assert sensor.bonded_hosts == [str(second.address)]
        with pytest.raises(NotPairedError):  # the first host was forgotten
            await packets_from(transport(first, None))


@pytest.mark.slow
async def test_a_spoof_with_the_same_name_gets_no_connection(
    link: LocalLink, tmp_path: Path
) -> None:
    sensor = await private_sensor(link)
    # An open (version 1) look-alike advertising the same name and service.
    spoof = simulated_device_on_link(link, "desk_short", seed=9, name="tiltmon")
    await spoof.start()
    paired = PairedSensors(tmp_path / "paired.json")
    try:
        async with VirtualRadio(link=link) as radio:
            with pytest.raises(SensorError, match="several tiltmon sensors"):
                await pair(radio, paired)
            await pair(radio, paired, target=str(sensor.identity_address))
            connected = spoof.counters.connections
            for _ in range(3):
                events, got = await packets_from(transport(radio, paired))
                assert got == 3
                link_up = [e.detail for e in events if e.kind is LinkEventKind.CONNECTED]
                # The spoof is not even a candidate: "the only sensor in range" is the paired one.
                assert len(link_up) == 1 and str(sensor.identity_address) in link_up[0]
            assert spoof.counters.connections == connected
    finally:
        await spoof.stop()
        await sensor.stop()


@pytest.mark.slow
async def test_vendor_sensors_are_not_held_to_tiltmon_pairings(
    link: LocalLink, tmp_path: Path
) -> None:
    paired = PairedSensors(tmp_path / "paired.json")
    paired.add("AA:BB:CC:DD:EE:FF", "tiltmon", "tiltmon")
    witmotion = simulated_device_on_link(link, "desk_short", model="witmotion", seed=1)
    await witmotion.start()
    try:
        async with VirtualRadio(link=link) as radio:
            client = BleTransport(
                None,
                protocols=["witmotion"],
                policy=POLICY,
                scanner_backend=radio.scanner_backend,
                client_backend=radio.client_backend,
                paired=paired,
            )
            _, got = await packets_from(client)
            assert got == 3
    finally:
        await witmotion.stop()


def test_the_paired_record_is_private_and_survives_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "data" / "paired.json"
    paired = PairedSensors(path)
    paired.add("aa:bb:cc:dd:ee:ff", "tiltmon", "tiltmon", at=1000.0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = PairedSensors(path)
    assert "AA:BB:CC:DD:EE:FF" in again and again.addresses("tiltmon") == {"AA:BB:CC:DD:EE:FF"}
    assert again.remove("AA:BB:CC:DD:EE:FF") and not PairedSensors(path).addresses("tiltmon")


def test_a_damaged_record_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "paired.json"
    path.write_text('{"sensors": [{"address": 1}]}')
    with pytest.raises(ConfigError, match="damaged"):
        PairedSensors(path)
    path.write_text("not json")
    with pytest.raises(ConfigError, match="cannot read"):
        PairedSensors(path)


async def addresses_seen(radio: VirtualRadio) -> set[str]:
    found = await BleakScanner.discover(timeout=0.5, backend=radio.scanner_backend)
    return {device.address for device in found}


@pytest.mark.slow
async def test_once_bonded_the_sensor_hides_behind_private_addresses_its_host_resolves(
    link: LocalLink, tmp_path: Path
) -> None:
    paired = PairedSensors(tmp_path / "paired.json")
    async with running_sensor(link, Security(address_rotation_s=3600)) as sensor:
        identity = str(sensor.identity_address)
        async with VirtualRadio(link=link) as radio, VirtualRadio(link=link) as tracker:
            assert await addresses_seen(tracker) == {identity}  # unbonded: findable to pair
            assert await pair(radio, paired) == identity
            # Back to advertising, under a private address now.
            moved = await BleakScanner.find_device_by_filter(
                lambda device, _adv: device.address != identity,
                timeout=5,
                backend=tracker.scanner_backend,
            )
            assert moved is not None
            after_bonding = str(sensor.advertised_address)
            assert moved.address == after_bonding
            assert sensor.advertised_address.is_resolvable and after_bonding != identity
            # The tracker sees a stranger; the bonded host sees its sensor, by its identity.
            assert await addresses_seen(tracker) == {after_bonding}
            assert await addresses_seen(radio) == {identity}
            events, got = await packets_from(transport(radio, paired))
            assert got == 3 and sensor.counters.pairings == 1  # reconnected with the bond
            assert LinkEventKind.CONFIGURED in [e.kind for e in events]
            # A new private address (the rotation timer's): nothing for a tracker to follow,
            # and still its sensor to the bonded host.
            await sensor.rotate_address()
            rotated = str(sensor.advertised_address)
            assert sensor.advertised_address.is_resolvable
            assert rotated not in (after_bonding, identity)
            assert await addresses_seen(tracker) == {rotated}
            assert await addresses_seen(radio) == {identity}


@pytest.mark.slow
async def test_the_private_address_changes_on_its_timer(link: LocalLink, tmp_path: Path) -> None:
    async with (
        running_sensor(link, Security(address_rotation_s=0.3)),
        VirtualRadio(link=link) as radio,
        VirtualRadio(link=link) as tracker,
    ):
        identity = await pair(radio, None)
        found = await BleakScanner.discover(timeout=2.0, backend=tracker.scanner_backend)
        seen = {device.address for device in found}
        assert identity not in seen and len(seen) >= 3  # several, each for a moment
        resolver = radio.device.address_resolver
        assert resolver is not None
        for device in found:
            assert str(resolver.resolve(device.details)) == identity
