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


class ConnectionLostError(SensorError):
    """The link went down and could not be brought back."""
