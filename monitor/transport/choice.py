"""Which sensor to use when several are in range, and how to say why.

The order of preference: the one the wearer asked for (``--sensor NAME_OR_ADDRESS``; a name may
fit several), then the one used last time, then one with a calibration profile, then the
strongest signal. Sensors are told apart by address only: a name, or a serial, can be shared by
every unit of a model, so it remembers nothing and finds no calibration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A Bluetooth address, or the per-host UUID macOS gives a device instead.
_ADDRESS = re.compile(
    r"([0-9a-f]{2}:){5}[0-9a-f]{2}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A sensor heard in a scan that a protocol module recognises."""

    name: str
    address: str
    rssi: int
    protocol: str


@dataclass(frozen=True, slots=True)
class Choice:
    chosen: Candidate
    reason: str  # "used last time, calibrated", "strongest signal", ...
    others: tuple[Candidate, ...]  # the rest in range, strongest first

    def describe(self) -> str:
        """One line for people: which, why, and what else is there."""
        text = f"{_label(self.chosen)} ({self.reason})"
        if self.others:
            text += "; also in range: " + ", ".join(
                f"{_label(c)} {c.rssi} dBm" for c in self.others
            )
            text += " (pick one with --sensor NAME_OR_ADDRESS)"
        return text


def is_address(text: str) -> bool:
    return _ADDRESS.fullmatch(text.strip()) is not None


def choose(
    candidates: Sequence[Candidate],
    *,
    target: str | None = None,
    remembered: str | None = None,
    calibrated: Callable[[str], bool] = lambda _address: False,
) -> Choice | None:
    """The sensor to connect to, or None if none fits ``target`` (or none is in range)."""
    pool = list(candidates)
    if target:
        wanted = target.strip().lower()
        pool = [c for c in pool if wanted in (c.address.lower(), c.name.lower())]
    if not pool:
        return None
    remembered_address = (remembered or "").lower()
    known = {c.address: calibrated(c.address) for c in pool}

    def rank(c: Candidate) -> tuple[bool, bool, int]:
        return (c.address.lower() == remembered_address, known[c.address], c.rssi)

    best = max(pool, key=rank)  # on a full tie, the first heard
    reasons = []
    if target:
        reasons.append("asked for" if len(pool) == 1 else f"one of {len(pool)} named {target}")
    if best.address.lower() == remembered_address:
        reasons.append("used last time")
    if known[best.address]:
        reasons.append("calibrated")
    if len(reasons) == (1 if target else 0) and len(pool) > 1:
        reasons.append("strongest signal")
    others = tuple(sorted((c for c in candidates if c is not best), key=lambda c: -c.rssi))
    if not reasons:
        reasons.append("the only sensor in range" if not others else "the only one that fits")
    return Choice(best, ", ".join(reasons), others)


def _label(c: Candidate) -> str:
    return f"{c.name or '(no name)'} {c.address}"
