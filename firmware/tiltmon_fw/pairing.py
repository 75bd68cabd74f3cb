"""The private link's rules (docs/protocol.md, version 2) that the clip decides for itself:
when its pairing window is open, when an unencrypted host has to go, and what the Security
characteristic says. Times are the clip's clock in µs (``time.monotonic_ns() // 1000``)."""

import struct

from tiltmon_fw import profile as p

WINDOW_US = 120 * 1000000  # two minutes after power-up or a button press
UNENCRYPTED_GRACE_US = 10 * 1000000
UNKNOWN = 0xFF  # a count the clip's stack does not tell it (CircuitPython: bonds)


class PairingWindow:
    """Open for ``length_us`` after power-up and after each press of the button; a pairing
    closes it (one pairing per press)."""

    def __init__(self, now_us: int, length_us: int = WINDOW_US) -> None:
        self.length_us = length_us
        self._until = now_us + length_us

    def press(self, now_us: int) -> None:
        self._until = now_us + self.length_us

    def paired(self) -> None:
        self._until = -1

    def is_open(self, now_us: int) -> bool:
        return now_us < self._until


class LinkGuard:
    """Outside the pairing window, a host that has not encrypted the link within the grace time
    is disconnected, so a stranger cannot hold the clip and keep it from its owner."""

    def __init__(self, grace_us: int = UNENCRYPTED_GRACE_US) -> None:
        self.grace_us = grace_us
        self._since = None  # type: int | None

    def connected(self, now_us: int) -> None:
        self._since = now_us

    def disconnected(self) -> None:
        self._since = None

    def should_drop(self, now_us: int, encrypted: bool, window_open: bool) -> bool:
        if self._since is None or encrypted or window_open:
            return False
        return now_us - self._since >= self.grace_us


def encode_security(
    window_open: bool, link_bonded: bool, bonds: int = UNKNOWN, max_bonds: int = UNKNOWN
) -> bytes:
    """The Security characteristic's value."""
    flags = p.SECURITY_ENCRYPTION_REQUIRED
    if window_open:
        flags |= p.SECURITY_PAIRING_WINDOW_OPEN
    if link_bonded:
        flags |= p.SECURITY_LINK_BONDED
    return struct.pack("<BBBB", p.PROFILE_VERSION_PRIVATE, flags, bonds & 0xFF, max_bonds & 0xFF)
