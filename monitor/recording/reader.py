"""Reading a session file back: metadata, and the recorded items in their original order.

Reading never writes: the file is opened read-only, so a recording can be listed or replayed while
it is still being written. A damaged file is read as far as it can be: a chunk row that SQLite
cannot read, or whose checksum does not match, is skipped (its samples then show as a gap
downstream), and each such event adds a line to the notices (docs/recording.md, "Damage").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import heapq
import json
import sqlite3
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import numpy as np

from monitor.recording.paths import is_being_written
from monitor.recording.schema import (
    APP,
    APPLICATION_ID,
    LINK,
    SCHEMA_VERSION,
    SUFFIX,
    RecordingError,
    config_from,
    device_info_from,
    link_event_from,
)
from monitor.sensors import DEFAULT_PROTOCOL
from monitor.sensors.base import StreamFormat
from monitor.transport.items import DeviceInfo, LinkEvent, LinkEventKind, Notification

_SQLITE_MAGIC = b"SQLite format 3\x00"
_DETAILED_NOTICES = 10  # per kind of trouble; later ones are only counted
# Link state a pipeline needs when it starts in the middle of a recording.
_CONTEXT_KINDS = (LinkEventKind.DEVICE_INFO, LinkEventKind.BATTERY, LinkEventKind.CONFIGURED)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a session file says about itself (from its metadata, without reading the data)."""

    path: Path
    started_at: float  # host wall clock, s
    ended_at: float | None  # None: no end marker (the recorder was killed, or still writing)
    last_at: float | None  # receive time of the last committed notification
    tiltmon_version: str
    transport: str
    device: DeviceInfo | None
    config: StreamFormat | None
    packets: int
    samples: int
    schema_version: int

    @property
    def protocol(self) -> str:
        """The wire protocol of the recorded payloads (recordings before names: tiltmon)."""
        return self.config.protocol if self.config is not None else DEFAULT_PROTOCOL

    @property
    def complete(self) -> bool:
        return self.ended_at is not None

    @property
    def end(self) -> float:
        """The last moment the session is known to cover."""
        ends = [t for t in (self.ended_at, self.last_at) if t is not None]
        return max(ends) if ends else self.started_at

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end - self.started_at)


@dataclass(frozen=True, slots=True)
class AppEvent:
    seq: int
    at: float
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CalibrationRecord:
    seq: int
    at: float
    name: str
    profile: dict[str, Any]


@dataclass(slots=True)
class ReadProgress:
    """How far reading got, for notices about damaged files."""

    last_at: float | None = None
    corrupt_chunks: int = 0
    skipped_events: int = 0
    stopped: str | None = None  # why reading stopped early, if it did


class Recording:
    """One session file, opened read-only. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.notices: list[str] = []
        self.progress = ReadProgress()
        self._db = _open_read_only(self.path)
        try:
            try:
                self.info = self._read_info()
            except sqlite3.DatabaseError:
                # SQLite refuses a file shorter than its header says, even to read the rest.
                self._db.close()
                self._db = _open_damaged(self.path)
                self.notices.append("the file is damaged (cut short or overwritten)")
                self.info = self._read_info()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise RecordingError(f"{self.path} is not a readable tiltmon recording: {exc}") from exc
        except BaseException:
            self._db.close()
            raise
        if not self.info.complete:
            when = _clock(self.info.end)
            self.notices.append(f"recording ended unexpectedly at {when} (no end marker)")

    # --- metadata -----------------------------------------------------------------------------

    def _read_info(self) -> SessionInfo:
        app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise RecordingError(f"{self.path} is an SQLite file but not a tiltmon recording")
        if version > SCHEMA_VERSION:
            raise RecordingError(
                f"{self.path} was written by a newer tiltmon (recording format {version});"
                f" this version reads format {SCHEMA_VERSION}: upgrade tiltmon to open it"
            )
        if version < 1:
            raise RecordingError(f"{self.path} has no recording format version")
        try:
            meta = {
                key: json.loads(value)
                for key, value in self._db.execute("SELECT key, value FROM meta")
            }
        except ValueError as exc:
            raise RecordingError(f"{self.path}: session metadata unreadable: {exc}") from exc
        if meta.get("format") != "tiltmon-session" or "started_at" not in meta:
            raise RecordingError(f"{self.path}: session metadata incomplete")
        try:
            return SessionInfo(
                path=self.path,
                started_at=float(meta["started_at"]),
                ended_at=_float_or_none(meta.get("ended_at")),
                last_at=_float_or_none(meta.get("last_at")),
                tiltmon_version=str(meta.get("tiltmon_version", "")),
                transport=str(meta.get("transport", "")),
                device=device_info_from(meta["device"]) if "device" in meta else None,
                config=config_from(meta["config"]) if "config" in meta else None,
                packets=int(meta.get("packets", 0)),
                samples=int(meta.get("samples", 0)),
                schema_version=version,
            )
        except (TypeError, ValueError) as exc:
            raise RecordingError(f"{self.path}: session metadata malformed: {exc}") from exc

    # --- items --------------------------------------------------------------------------------

    def items(self, start_at: float | None = None) -> Iterator[Notification | LinkEvent]:
        """The recorded notifications and link events in order, with their original times.

        With ``start_at`` (host time), begin at the first item at or after it, preceded by the
        latest device-info, battery and configured events before it, so that a pipeline started
        there can decode.
        """
        start_seq = 0
        if start_at is not None:
            located = self._locate(start_at)
            if located is None:
                return
            start_seq = located
            yield from self._context(start_seq)
        merged: Iterator[tuple[int, Notification | LinkEvent]] = heapq.merge(
            self._notifications(start_seq), self._link_events(start_seq), key=_seq_of
        )
        progress = self.progress
        for _, item in merged:
            progress.last_at = item.received_at if isinstance(item, Notification) else item.at
            yield item

    def _notifications(self, start_seq: int) -> Iterator[tuple[int, Notification]]:
        first = self._query_one("SELECT max(seq) FROM chunks WHERE seq <= ?", (start_seq,))
        for seq in self._chunk_seqs(first or 0):
            try:
                row = self._db.execute(
                    "SELECT n, crc32, received_at, lengths, payloads FROM chunks WHERE seq = ?",
                    (seq,),
                ).fetchone()
                if row is None:
                    continue
                n, crc, times_blob, lengths_blob, payloads = row
                times, lengths = _unpack_chunk(n, crc, times_blob, lengths_blob, payloads)
            except (sqlite3.DatabaseError, ValueError) as exc:
                # One damaged row (an overwritten page): skip it, its samples become a gap.
                self._note_damaged_chunk(exc)
                continue
            ends = list(accumulate(lengths))
            start = 0
            for i, (t, end) in enumerate(zip(times, ends, strict=True)):
                if seq + i >= start_seq:
                    yield seq + i, Notification(t, payloads[start:end])
                start = end

    def _chunk_seqs(self, first: int) -> list[int]:
        """The ordinals of the chunk rows from ``first`` on, as many as can still be found.

        Listing them reads only the table's leaf pages, not the data in overflow pages. If the
        table's own pages are damaged, the time index (a separate b-tree) may still list the rest.
        """
        listed: list[int] = []
        try:
            for (seq,) in self._db.execute(
                "SELECT seq FROM chunks WHERE seq >= ? ORDER BY seq", (first,)
            ):
                listed.append(seq)
            return listed
        except sqlite3.DatabaseError as exc:
            error = exc
        found = set(listed)
        with contextlib.suppress(sqlite3.DatabaseError):
            for (seq,) in self._db.execute(
                "SELECT seq FROM chunks INDEXED BY chunks_by_time WHERE seq >= ?", (first,)
            ):
                found.add(seq)
        if len(found) == len(listed):
            self._note_stop(error)
        return sorted(found)

    def _note_damaged_chunk(self, exc: Exception) -> None:
        progress = self.progress
        progress.corrupt_chunks += 1
        if progress.corrupt_chunks <= _DETAILED_NOTICES:
            self.notices.append(f"skipped damaged data after {_clock(progress.last_at)}: {exc}")

    def _link_events(self, start_seq: int) -> Iterator[tuple[int, LinkEvent]]:
        cursor = self._rows(
            "SELECT seq, at, kind, data FROM events WHERE source = ? AND seq >= ? ORDER BY seq",
            (LINK, start_seq),
        )
        for seq, at, kind, data in cursor:
            event = self._link_event(at, kind, data)
            if event is not None:
                yield seq, event

    def _link_event(self, at: float, kind: str, data: str) -> LinkEvent | None:
        try:
            return link_event_from(float(at), kind, json.loads(data))
        except (RecordingError, ValueError, TypeError) as exc:
            self.progress.skipped_events += 1
            if self.progress.skipped_events <= _DETAILED_NOTICES:
                self.notices.append(f"skipped a link event at {_clock(at)}: {exc}")
            return None

    def _locate(self, start_at: float) -> int | None:
        """The ordinal of the first item at or after ``start_at``; None if there is none."""
        candidates: list[int] = []
        row = self._query_row(
            "SELECT seq, received_at FROM chunks WHERE last_at >= ? ORDER BY seq LIMIT 1",
            (start_at,),
        )
        if row is not None:
            times = np.frombuffer(row[1], dtype="<f8")
            candidates.append(row[0] + int(np.argmax(times >= start_at)))
        event_seq = self._query_one(
            "SELECT min(seq) FROM events WHERE source = ? AND at >= ?", (LINK, start_at)
        )
        if event_seq is not None:
            candidates.append(event_seq)
        return min(candidates) if candidates else None

    def _context(self, before_seq: int) -> list[LinkEvent]:
        found: list[tuple[int, LinkEvent]] = []
        for kind in _CONTEXT_KINDS:
            row = self._query_row(
                "SELECT seq, at, kind, data FROM events WHERE source = ? AND kind = ?"
                " AND seq < ? ORDER BY seq DESC LIMIT 1",
                (LINK, kind.value, before_seq),
            )
            if row is not None:
                event = self._link_event(row[1], row[2], row[3])
                if event is not None:
                    found.append((row[0], event))
        return [event for _, event in sorted(found, key=_seq_of)]

    # --- app events and calibrations ----------------------------------------------------------

    def app_events(self) -> list[AppEvent]:
        events = []
        for seq, at, kind, data in self._rows(
            "SELECT seq, at, kind, data FROM events WHERE source = ? ORDER BY seq", (APP,)
        ):
            try:
                events.append(AppEvent(seq, float(at), str(kind), json.loads(data)))
            except (ValueError, TypeError):
                self.progress.skipped_events += 1
        return events

    def calibrations(self) -> list[CalibrationRecord]:
        records = []
        for seq, at, name, profile in self._rows(
            "SELECT seq, at, name, profile FROM calibrations ORDER BY seq", ()
        ):
            try:
                records.append(CalibrationRecord(seq, float(at), str(name), json.loads(profile)))
            except (ValueError, TypeError):
                self.progress.skipped_events += 1
        return records

    def finish_notices(self) -> list[str]:
        """The notices, with a closing line on how far a damaged file could be read."""
        notices = list(self.notices)
        progress = self.progress
        if progress.corrupt_chunks > _DETAILED_NOTICES:
            notices.append(f"{progress.corrupt_chunks} damaged chunks skipped in all")
        if progress.stopped is not None:
            notices.append(progress.stopped)
        return notices

    # --- SQLite access that survives damage ---------------------------------------------------

    def _rows(self, sql: str, params: tuple[object, ...]) -> Iterator[tuple[Any, ...]]:
        """Rows of a query; at the first unreadable page, note how far it got and stop."""
        try:
            cursor = self._db.execute(sql, params)
            while True:
                row = cursor.fetchone()
                if row is None:
                    return
                yield row
        except sqlite3.DatabaseError as exc:
            self._note_stop(exc)

    def _note_stop(self, exc: Exception) -> None:
        progress = self.progress
        if progress.stopped is None:
            got = (
                f"read up to {_clock(progress.last_at)}"
                if progress.last_at is not None
                else "no data could be read"
            )
            progress.stopped = (
                f"the file is damaged: {got} of a session that ran to"
                f" {_clock(self.info.end)} ({exc})"
            )

    def _query_row(self, sql: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        return next(self._rows(sql, params), None)

    def _query_one(self, sql: str, params: tuple[object, ...]) -> Any:
        row = self._query_row(sql, params)
        return None if row is None else row[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_info(path: str | Path) -> SessionInfo:
    with Recording(path) as recording:
        return recording.info


def list_sessions(directory: Path) -> list[tuple[Path, SessionInfo | RecordingError]]:
    """Every ``*.tiltmon`` file in ``directory``, oldest first, with its info or its problem."""
    found: list[tuple[Path, SessionInfo | RecordingError]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            found.append((path, read_info(path)))
        except RecordingError as exc:
            found.append((path, exc))
    return found


class SessionState(enum.Enum):
    """What ``tiltmon sessions`` says about a file."""

    COMPLETE = "complete"
    LIVE = "recording now"
    ENDED_UNEXPECTEDLY = "ended unexpectedly"
    DAMAGED = "damaged"
    EMPTY = "empty"


LIVE_HEARTBEAT_S = 15.0  # without locks: a session without end marker written to this recently


def session_state(info: SessionInfo, *, now: float | None = None) -> SessionState:
    """Live (a recorder holds it), damaged (cut short), empty (no samples), or how it ended."""
    if not info.complete:
        held = is_being_written(info.path)
        if held is None:  # no advisory locks here: a recent commit means live
            now = time.time() if now is None else now
            held = now - info.end < LIVE_HEARTBEAT_S
        if held:
            return SessionState.LIVE
    if cut_short(info.path):
        return SessionState.DAMAGED
    if info.samples == 0:
        return SessionState.EMPTY
    return SessionState.COMPLETE if info.complete else SessionState.ENDED_UNEXPECTEDLY


def cut_short(path: Path) -> bool:
    """Whether the file is shorter than its SQLite header says, or not whole pages.

    SQLite opens such a file without complaint and fails only at the missing pages, so a file
    cut short would otherwise be listed as healthy. (The header's page count is trusted only
    when SQLite marks it valid: change counter equal to version-valid-for.)
    """
    try:
        with path.open("rb") as f:
            header = f.read(100)
        size = path.stat().st_size
    except OSError:
        return False
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        return True
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or size % page_size:
        return True
    pages = int.from_bytes(header[28:32], "big")
    valid = header[24:28] == header[92:96]
    return valid and size < pages * page_size


def _open_read_only(path: Path) -> sqlite3.Connection:
    try:
        with path.open("rb") as f:
            magic = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError as exc:
        raise RecordingError(f"no recording at {path}") from exc
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from exc
    if magic != _SQLITE_MAGIC:
        raise RecordingError(f"{path} is not a tiltmon recording")
    try:
        return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RecordingError(f"cannot open {path}: {exc}") from exc


def _open_damaged(path: Path) -> sqlite3.Connection:
    """An in-memory copy of a damaged file that SQLite agrees to read as far as it can.

    A file cut short is refused outright because its header promises more pages than it has:
    the copy keeps the whole pages and says so in its header. Queries then fail only when they
    reach a missing or overwritten page, and the reader stops there.
    """
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise RecordingError(f"{path} is not a readable tiltmon recording: header damaged")
    pages = len(data) // page_size
    del data[pages * page_size :]
    data[28:32] = pages.to_bytes(4, "big")
    # Rollback journal mode: an in-memory database cannot use the WAL.
    data[18:20] = b"\x01\x01"
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(bytes(data))
    except sqlite3.Error as exc:
        db.close()
        raise RecordingError(f"{path} is not a readable tiltmon recording: {exc}") from exc
    return db


def _unpack_chunk(
    n: object, crc: object, times_blob: object, lengths_blob: object, payloads: object
) -> tuple[list[float], list[int]]:
    if not (
        isinstance(n, int)
        and isinstance(times_blob, bytes)
        and isinstance(lengths_blob, bytes)
        and isinstance(payloads, bytes)
    ):
        raise ValueError("a chunk row has the wrong types")
    if zlib.crc32(payloads, zlib.crc32(lengths_blob, zlib.crc32(times_blob))) != crc:
        raise ValueError("checksum mismatch")
    if len(times_blob) != 8 * n or len(lengths_blob) != 2 * n:
        raise ValueError("chunk arrays disagree with its count")
    lengths = np.frombuffer(lengths_blob, dtype="<u2").tolist()
    if sum(lengths) != len(payloads):
        raise ValueError("chunk payload sizes disagree with its data")
    return np.frombuffer(times_blob, dtype="<f8").tolist(), lengths


def _seq_of(pair: tuple[int, object]) -> int:
    return pair[0]


def _float_or_none(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _clock(t: float | None) -> str:
    if t is None:
        return "the start"
    return dt.datetime.fromtimestamp(t).isoformat(sep=" ", timespec="seconds")
