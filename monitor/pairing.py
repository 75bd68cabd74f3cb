"""The sensors this computer is paired with (docs/protocol.md, private link).

The operating system's Bluetooth stack keeps the keys of a bond; tiltmon keeps which sensors it
paired with, so that it connects to those and no other device that advertises the same name or
service (a replayed or spoofed advertisement gets no connection), and so that it can say
plainly what to do when a sensor refuses it. The record is a small JSON file in the data
directory, owner-only.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from monitor.errors import ConfigError
from monitor.private_files import private_output

PAIRED_FILE = "paired-sensors.json"
#: The virtual radio's bonds (its bumble key store and identity), for `--radio` and `tiltmon sim`.
VIRTUAL_RADIO_KEYS_FILE = "virtual-radio-bonds.json"

NOT_PAIRED_HINT = (
    "open its pairing window (press its button, or switch it off and on: the window is open for"
    " the first two minutes) and run `tiltmon pair`"
)


def parse_passkey(text: str) -> int:
    """A sensor's passkey: the 6 digits on its label (a space or dash between groups allowed)."""
    digits = text.strip().replace(" ", "").replace("-", "")
    if not (len(digits) == 6 and digits.isdigit()):
        raise ConfigError(f"a passkey is the 6 digits on the sensor's label, not {text!r}")
    return int(digits)


def without_command_hint(reason: str) -> str:
    """A refusal's reason without the hint to run ``tiltmon pair``: for the dashboard, whose
    pairing screen says how to pair in its own steps."""
    at = reason.rfind(NOT_PAIRED_HINT)
    if at < 0:
        return reason
    return reason[:at].rstrip(" :;") + "."


def paired_file() -> Path:
    from monitor.recording.paths import data_dir

    return data_dir() / PAIRED_FILE


def virtual_radio_keys_file() -> Path:
    from monitor.recording.paths import data_dir

    return data_dir() / VIRTUAL_RADIO_KEYS_FILE


@dataclass(frozen=True, slots=True)
class PairedSensor:
    address: str  # as bleak spells it (upper case); on macOS a CoreBluetooth UUID
    name: str
    protocol: str
    paired_at: float  # Unix time


class PairedSensors:
    """The record of paired sensors at ``path`` (read at construction, written on change)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paired_file()
        self._sensors: dict[str, PairedSensor] = {}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the paired sensors: {exc}", path=str(self.path)
            ) from exc
        try:
            for entry in raw["sensors"]:
                sensor = PairedSensor(
                    address=str(entry["address"]).upper(),
                    name=str(entry["name"]),
                    protocol=str(entry["protocol"]),
                    paired_at=float(entry["paired_at"]),
                )
                self._sensors[sensor.address] = sensor
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"the paired-sensors file is damaged ({exc!r}); delete it and pair again",
                path=str(self.path),
            ) from exc

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.upper() in self._sensors

    def __len__(self) -> int:
        return len(self._sensors)

    def sensors(self) -> list[PairedSensor]:
        return sorted(self._sensors.values(), key=lambda s: s.paired_at)

    def addresses(self, protocol: str) -> set[str]:
        return {s.address for s in self._sensors.values() if s.protocol == protocol}

    def add(self, address: str, name: str, protocol: str, *, at: float | None = None) -> None:
        sensor = PairedSensor(address.upper(), name, protocol, time.time() if at is None else at)
        self._sensors[sensor.address] = sensor
        self._save()

    def remove(self, address: str) -> bool:
        if self._sensors.pop(address.upper(), None) is None:
            return False
        self._save()
        return True

    def _save(self) -> None:
        with private_output(self.path) as out:
            json.dump({"sensors": [asdict(s) for s in self.sensors()]}, out, indent=2)
