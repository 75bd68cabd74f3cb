"""The session file's schema, and link events to and from JSON (docs/recording.md).

One SQLite file per session. Every recorded item takes the next number of one ordinal, ``seq``,
shared by all tables, so a reader can put notifications, link events, app events and calibration
profiles back in the order they happened without trusting wall-clock times.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from monitor.errors import MonitorError
from monitor.sensors.base import StreamFormat
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind

# "TLTM": marks a SQLite file as a tiltmon recording (PRAGMA application_id).
APPLICATION_ID = 0x544C544D
SCHEMA_VERSION = 1
SUFFIX = ".tiltmon"


class RecordingError(MonitorError):
    """A file is not a readable tiltmon recording (or a recording cannot be written)."""


# Blobs go last in each row: a scan for times and counts then reads only the row headers.
SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL  -- JSON
) WITHOUT ROWID;
CREATE TABLE chunks (
    seq INTEGER PRIMARY KEY,  -- ordinal of the chunk's first notification; it spans `n` numbers
    n INTEGER NOT NULL,  -- notifications in the chunk
    samples INTEGER NOT NULL,  -- samples their headers announce (for listings)
    first_at REAL NOT NULL,  -- receive time of the first and last notification, s
    last_at REAL NOT NULL,
    crc32 INTEGER NOT NULL,  -- zlib.crc32 of received_at || lengths || payloads
    received_at BLOB NOT NULL,  -- n float64 little-endian, host wall clock
    lengths BLOB NOT NULL,  -- n uint16 little-endian payload sizes
    payloads BLOB NOT NULL  -- the n payloads, concatenated, exactly as received
);
CREATE INDEX chunks_by_time ON chunks (last_at);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,  -- host wall clock (link) or stream time (app), s
    source TEXT NOT NULL,  -- 'link' or 'app'
    kind TEXT NOT NULL,
    data TEXT NOT NULL  -- JSON object
);
CREATE TABLE calibrations (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    name TEXT NOT NULL,
    profile TEXT NOT NULL  -- JSON object, as the calibration module wrote it
);
"""

LINK = "link"
APP = "app"


def link_event_data(event: LinkEvent) -> dict[str, Any]:
    """The JSON object stored for a link event (its time and kind have their own columns)."""
    data: dict[str, Any] = {}
    if event.detail:
        data["detail"] = event.detail
    if event.config is not None:
        data["config"] = dataclasses.asdict(event.config)
    if event.battery_percent is not None:
        data["battery_percent"] = event.battery_percent
    if event.device_info is not None:
        data["device_info"] = dataclasses.asdict(event.device_info)
    if event.expected:
        data["expected"] = True
    return data


def link_event_from(at: float, kind: str, data: dict[str, Any]) -> LinkEvent:
    """Rebuild a recorded link event; raise RecordingError for one this version cannot read."""
    try:
        return LinkEvent(
            at=at,
            kind=LinkEventKind(kind),
            detail=str(data.get("detail", "")),
            config=config_from(data["config"]) if "config" in data else None,
            battery_percent=data.get("battery_percent"),
            device_info=device_info_from(data["device_info"]) if "device_info" in data else None,
            expected=bool(data.get("expected", False)),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise RecordingError(f"unreadable {kind!r} link event: {exc}") from exc


def config_from(data: dict[str, Any]) -> StreamFormat:
    """A recorded stream format; recordings from before protocols had names are tiltmon's."""
    return StreamFormat(**_known_fields(StreamFormat, data))


def device_info_from(data: dict[str, Any]) -> DeviceInfo:
    return DeviceInfo(**_known_fields(DeviceInfo, data))


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    # A later version may add fields: keep the ones this version knows.
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
