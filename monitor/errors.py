"""One error root for the project, mixed with the standard types callers already catch."""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error tiltmon raises on purpose."""


class DecodeError(MonitorError, ValueError):
    """Bytes from the sensor (or a recording) do not follow docs/protocol.md."""


class SensorError(MonitorError):
    """The sensor refused a command or answered outside the protocol."""


class SensorNotFoundError(SensorError):
    """No sensor answered the scan."""


class BluetoothUnavailableError(SensorError):
    """This computer has no usable Bluetooth (no adapter, or its service is not running)."""


class NotPairedError(SensorError):
    """The sensor keeps its data for the computer it is paired with, and this is not it (or
    the bond was lost on one side): retrying will not help, pairing again will."""


class PasskeyError(NotPairedError):
    """The sensor pairs with the passkey on its label, and it was wrong or not given."""


class ConnectionLostError(SensorError):
    """The link went down and could not be brought back."""


class ConfigError(MonitorError, ValueError):
    """A setting, the config file or the exercises file is invalid.

    `path`, `line` and `key` say where, when known, so the wearer can fix the file by hand.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        where = ""
        if path is not None:
            where = path if line is None else f"{path}:{line}"
            where += ": "
        what = f"{key}: " if key is not None else ""
        super().__init__(f"{where}{what}{message}")
