"""Canary: the bleak internals that the virtual radio's backend (firmware_sim/radio/backend.py)
subclasses and relies on are still what it was written against.

bleak's backend base classes are not public API: a release may add an abstract method, rename
a parameter or stop setting an attribute, and the virtual radio (hence tier A of the tests and
``tiltmon --sim``) would break in confusing ways. These tests fail first, naming the bleak
version and the changed internal, so the backend can be brought up to date (and the pins below
with it) deliberately.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakGATTProtocolError
from bumble.link import LocalLink

from firmware_sim.radio import BumbleClient, BumbleScanner, VirtualRadio

BLEAK = version("bleak")
BACKEND = "firmware_sim/radio/backend.py"

# What bleak 3.1 declares abstract: exactly what the backend implements.
CLIENT_ABSTRACT = {
    "connect",
    "disconnect",
    "is_connected",
    "mtu_size",
    "pair",
    "read_gatt_char",
    "read_gatt_descriptor",
    "start_notify",
    "stop_notify",
    "unpair",
    "write_gatt_char",
    "write_gatt_descriptor",
}
SCANNER_ABSTRACT = {"start", "stop"}

# Parameters (names and kinds: *args, **kwargs) of what the backend overrides or calls.
SIGNATURES: list[tuple[str, Callable[..., Any], str]] = [
    (
        "BaseBleakClient.__init__",
        BaseBleakClient.__init__,
        "(self, address_or_ble_device, disconnected_callback, timeout, **kwargs)",
    ),
    ("BaseBleakClient.connect", BaseBleakClient.connect, "(self, pair, **kwargs)"),
    ("BaseBleakClient.disconnect", BaseBleakClient.disconnect, "(self)"),
    ("BaseBleakClient.pair", BaseBleakClient.pair, "(self, *args, **kwargs)"),
    ("BaseBleakClient.unpair", BaseBleakClient.unpair, "(self)"),
    (
        "BaseBleakClient.read_gatt_char",
        BaseBleakClient.read_gatt_char,
        "(self, characteristic, use_cached, **kwargs)",
    ),
    (
        "BaseBleakClient.read_gatt_descriptor",
        BaseBleakClient.read_gatt_descriptor,
        "(self, descriptor, use_cached, **kwargs)",
    ),
    (
        "BaseBleakClient.write_gatt_char",
        BaseBleakClient.write_gatt_char,
        "(self, characteristic, data, response)",
    ),
    (
        "BaseBleakClient.write_gatt_descriptor",
        BaseBleakClient.write_gatt_descriptor,
        "(self, descriptor, data)",
    ),
    (
        "BaseBleakClient.start_notify",
        BaseBleakClient.start_notify,
        "(self, characteristic, callback, **kwargs)",
    ),
    ("BaseBleakClient.stop_notify", BaseBleakClient.stop_notify, "(self, characteristic)"),
    (
        "BaseBleakScanner.__init__",
        BaseBleakScanner.__init__,
        "(self, detection_callback, service_uuids)",
    ),
    ("BaseBleakScanner.start", BaseBleakScanner.start, "(self)"),
    ("BaseBleakScanner.stop", BaseBleakScanner.stop, "(self)"),
    (
        "BaseBleakScanner.create_or_update_device",
        BaseBleakScanner.create_or_update_device,
        "(self, key, address, name, details, adv)",
    ),
    (
        "BaseBleakScanner.call_detection_callbacks",
        BaseBleakScanner.call_detection_callbacks,
        "(self, device, advertisement_data)",
    ),
    ("BaseBleakScanner.is_allowed_uuid", BaseBleakScanner.is_allowed_uuid, "(self, service_uuids)"),
    ("BleakGATTService", BleakGATTService.__init__, "(self, obj, handle, uuid)"),
    (
        "BleakGATTCharacteristic",
        BleakGATTCharacteristic.__init__,
        "(self, obj, handle, uuid, properties, max_write_without_response_size, service)",
    ),
    (
        "BleakGATTDescriptor",
        BleakGATTDescriptor.__init__,
        "(self, obj, handle, uuid, characteristic)",
    ),
    (
        "BleakGATTServiceCollection.add_service",
        BleakGATTServiceCollection.add_service,
        "(self, service)",
    ),
    (
        "BleakGATTServiceCollection.add_characteristic",
        BleakGATTServiceCollection.add_characteristic,
        "(self, characteristic)",
    ),
    (
        "BleakGATTServiceCollection.add_descriptor",
        BleakGATTServiceCollection.add_descriptor,
        "(self, descriptor)",
    ),
    ("BleakGATTProtocolError", BleakGATTProtocolError.__init__, "(self, error_code)"),
]


def shape(function: Callable[..., Any]) -> str:
    """A signature's parameter names and kinds, without annotations or defaults."""
    parts = []
    for parameter in inspect.signature(function).parameters.values():
        prefix = {parameter.VAR_POSITIONAL: "*", parameter.VAR_KEYWORD: "**"}.get(
            parameter.kind, ""
        )
        parts.append(prefix + parameter.name)
    return "(" + ", ".join(parts) + ")"


def changed(what: str, expected: object, found: object) -> str:
    return (
        f"bleak {BLEAK} changed {what}: the virtual radio's backend ({BACKEND}) was written"
        f" against {expected}, bleak now has {found}. Update the backend, then this canary."
    )


@pytest.mark.parametrize(
    ("base", "expected", "ours"),
    [
        (BaseBleakClient, CLIENT_ABSTRACT, BumbleClient),
        (BaseBleakScanner, SCANNER_ABSTRACT, BumbleScanner),
    ],
    ids=["client", "scanner"],
)
def test_the_abstract_methods_are_the_ones_the_backend_implements(
    base: type, expected: set[str], ours: type
) -> None:
    found = set(base.__abstractmethods__)  # type: ignore[attr-defined]
    assert found == expected, changed(f"the abstract methods of {base.__name__}", expected, found)
    assert not ours.__abstractmethods__, changed(  # type: ignore[attr-defined]
        f"what {ours.__name__} must implement", "nothing left", ours.__abstractmethods__
    )


@pytest.mark.parametrize(
    ("what", "function", "expected"), SIGNATURES, ids=[s[0] for s in SIGNATURES]
)
def test_the_signatures_the_backend_relies_on(
    what: str, function: Callable[..., Any], expected: str
) -> None:
    assert shape(function) == expected, changed(f"{what}{expected}", expected, shape(function))


def test_the_properties_the_backend_overrides_are_still_properties() -> None:
    for name in ("is_connected", "mtu_size", "name"):
        found = inspect.getattr_static(BaseBleakClient, name)
        assert isinstance(found, property), changed(
            f"BaseBleakClient.{name}", "a property", type(found).__name__
        )


async def test_the_base_classes_still_set_the_attributes_the_backend_reads() -> None:
    async with VirtualRadio(link=LocalLink()) as radio:
        client = radio.client_backend("00:11:22:33:44:55", disconnected_callback=None, timeout=3)
        for attribute in ("address", "_timeout", "_disconnected_callback", "services"):
            assert hasattr(client, attribute), changed(
                "BaseBleakClient.__init__", f"it to set .{attribute}", "no such attribute"
            )
        scanner = radio.scanner_backend(None, None)
        await scanner.start()
        try:
            assert isinstance(scanner.seen_devices, dict), changed(
                "BaseBleakScanner", ".seen_devices, a dict", type(scanner.seen_devices).__name__
            )
        finally:
            await scanner.stop()
