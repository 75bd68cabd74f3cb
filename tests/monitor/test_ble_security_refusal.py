"""A sensor's refusal of an unbonded or unencrypted host, as each bleak backend reports it.

The virtual radio's backend passes the ATT error code on (tests/firmware_sim/test_private_link.py
runs it end to end); BlueZ does not: it tries to raise the link's security itself and, refused,
answers with its own D-Bus error. These replies are the ones bluetoothd 5.66 sends (its
create_gatt_dbus_error), put through bleak's own reply check; tier B (tests/bluez) shows the
same through a running bluetoothd.
"""

from __future__ import annotations

import pytest
from bleak.backends.bluezdbus.utils import assert_gatt_reply
from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from dbus_fast import Message, MessageType

from monitor.transport.ble import refused_for_security


def bluez_error(name: str, text: str) -> BleakError:
    reply = Message(
        message_type=MessageType.ERROR,
        error_name=name,
        reply_serial=1,
        signature="s",
        body=[text],
    )
    with pytest.raises(BleakError) as raised:
        assert_gatt_reply(reply)
    return raised.value


def test_bluez_not_paired_is_a_refusal() -> None:
    # Insufficient authentication, encryption or key size, after BlueZ tried to pair or
    # encrypt and the sensor said no.
    assert refused_for_security(bluez_error("org.bluez.Error.NotPermitted", "Not paired"))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("org.bluez.Error.NotPermitted", "Read not permitted"),
        ("org.bluez.Error.NotPermitted", "Write not permitted"),
        ("org.bluez.Error.Failed", "Not connected"),
        ("org.bluez.Error.Failed", "Operation failed with ATT error: 0x0e"),
        ("org.bluez.Error.InProgress", "In Progress"),
    ],
)
def test_other_bluez_errors_are_not(name: str, text: str) -> None:
    # Link trouble is retried; only a refusal stops the client.
    assert not refused_for_security(bluez_error(name, text))


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        (BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION, True),
        (BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION, True),
        (BleakGATTProtocolErrorCode.READ_NOT_PERMITTED, False),
        (BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHORIZATION, False),
    ],
)
def test_att_codes_from_other_backends(code: BleakGATTProtocolErrorCode, refusal: bool) -> None:
    assert refused_for_security(BleakGATTProtocolError(code)) is refusal


def test_bluez_att_error_text_is_read_as_its_code() -> None:
    # A BlueZ that passes the code on (its "Operation failed with ATT error" form).
    error = bluez_error("org.bluez.Error.Failed", "Operation failed with ATT error: 0x05")
    assert isinstance(error, BleakGATTProtocolError)
    assert refused_for_security(error)
