"""The recorder: a listener that keeps a session's raw items on disk, crash-safe.

It is fed :data:`~monitor.transport.items.TransportItem` values (and app events) by the
pipeline, buffers them in memory and commits at least every ``commit_interval_s``. SQLite runs in
WAL mode with ``synchronous=NORMAL``: a commit appends to the write-ahead log without an fsync, so
it costs well under a millisecond, and a committed transaction survives the process being killed
(an fsync happens at each checkpoint; a power cut may lose the last commits, never the file).
Committing once a second on the event loop is cheap enough that no writer thread is needed
(benchmarks/bench_recording.py measures it).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from monitor import __version__
from monitor.recording.paths import (
    create_private_file,
    ensure_private_dir,
    hold_live_lock,
    release_live_lock,
)
from monitor.recording.schema import (
    APP,
    APPLICATION_ID,
    LINK,
    SCHEMA,
    SCHEMA_VERSION,
    RecordingError,
    dumps,
    link_event_data,
)
from monitor.sensors import DEFAULT_PROTOCOL, SensorProtocol
from monitor.sensors import protocol as protocol_named
from monitor.transport.items import LinkEvent, LinkEventKind, Notification, TransportItem

log = logging.getLogger(__name__)

PAGE_SIZE = 4096
# While commits fail (a full disk), notifications wait in memory up to this many; beyond it the
# oldest waiting ones are given up (and counted), so monitoring goes on in bounded memory.
MAX_WAITING_PACKETS = 60_000  # about 15 MB; 100 minutes at 200 Hz
_MAX_CHUNK = 4096  # notifications per row at most: keeps rows modest if commits are rare
# A second's packets make a row of 1–3 kB, and two such rows do not fit a 4 kB page: stored as
# they are, they would waste a third of the file. So the rows of consecutive commits are merged
# into rows of about this size, which SQLite keeps in overflow pages it fills completely.
_MERGE_BYTES = 32 * 1024  # about 12 s at 200 Hz; damage to the file loses at most this much

# seq, n, samples, first_at, last_at, crc32, received_at, lengths, payloads
ChunkRow = tuple[int, int, int, float, float, int, bytes, bytes, bytes]
_INSERT_CHUNK = (
    "INSERT INTO chunks (seq, n, samples, first_at, last_at, crc32, received_at, lengths,"
    " payloads) VALUES (?,?,?,?,?,?,?,?,?)"
)


@dataclass(slots=True)
class _Run:
    """Committed chunk rows with consecutive ordinals, to be merged into one row."""

    first_seq: int
    next_seq: int
    rows: int = 0
    size: int = 0
    times: list[float] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)


class SessionRecorder:
    """Write one session file. Not thread-safe: feed it from one thread (the event loop)."""

    def __init__(
        self,
        path: Path,
        *,
        transport: str,
        started_at: float | None = None,
        commit_interval_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.commit_interval_s = commit_interval_s
        self._monotonic = monotonic
        self.started_at = time.time() if started_at is None else started_at
        if not self.path.parent.exists():
            ensure_private_dir(self.path.parent)
        create_private_file(self.path)
        # Held while the session is being written (the kernel lets go if the process dies):
        # `tiltmon sessions` tells a live session from one that ended unexpectedly by it.
        self._lock = hold_live_lock(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.executescript("BEGIN;" + SCHEMA + "COMMIT;")
        except sqlite3.Error as exc:
            release_live_lock(self._lock)
            raise RecordingError(f"cannot write {self.path}: {exc}") from exc
        self._seq = 0
        # The chunk being filled: consecutive notifications, no other item between them.
        self._chunk_seq = 0
        self._times: list[float] = []
        self._payloads: list[bytes] = []
        # Waiting for the next commit:
        self._chunks: list[ChunkRow] = []
        self._merges: list[tuple[int, int, ChunkRow]] = []  # replaces rows first..last
        self._events: list[tuple[int, float, str, str, str]] = []
        self._calibrations: list[tuple[int, float, str, str]] = []
        self._meta: dict[str, object] = {
            "format": "tiltmon-session",
            "started_at": self.started_at,
            "tiltmon_version": __version__,
            "transport": transport,
        }
        self._run: _Run | None = None
        # Counts the samples each payload announces, for listings; the configured event says
        # which protocol the payloads speak (and is itself recorded, for replay to decode).
        self._protocol: SensorProtocol = protocol_named(DEFAULT_PROTOCOL)
        self.packets = 0
        self.samples = 0
        self.last_at: float | None = None
        self.commits = 0
        self.write_error: str | None = None  # set while commits fail (e.g. the disk is full)
        self.packets_lost = 0  # given up while commits failed
        self._last_commit = self._monotonic()
        self._closed = False
        self.flush()

    # --- listener -----------------------------------------------------------------------------

    def feed(self, item: TransportItem) -> None:
        """Take one transport item (cheap: buffered; committed within the commit interval)."""
        if isinstance(item, Notification):
            if not self._payloads:
                self._chunk_seq = self._seq
            self._times.append(item.received_at)
            # Lengths are stored as uint16; a GATT value is at most 512 bytes anyway.
            self._payloads.append(item.payload[:0xFFFF])
            self._seq += 1
            if len(self._payloads) >= _MAX_CHUNK:
                self._close_chunk()
            self.last_at = item.received_at
        else:
            self._close_chunk()
            data = dumps(link_event_data(item))
            self._events.append((self._seq, item.at, LINK, item.kind.value, data))
            self._seq += 1
            self._note_link_metadata(item)
            self.last_at = item.at
        self._flush_if_due()

    def record_event(self, t: float, kind: str, data: Mapping[str, Any] | None = None) -> None:
        """Record an app event (a nudge, a response, a calibration step, ...) as JSON."""
        self._close_chunk()
        self._events.append((self._seq, t, APP, kind, dumps(dict(data or {}))))
        self._seq += 1
        self._flush_if_due()

    def record_calibration(self, t: float, profile: Mapping[str, Any], name: str = "") -> None:
        """Record a calibration profile the session uses (JSON, as calibration writes it)."""
        self._close_chunk()
        self._calibrations.append((self._seq, t, name, dumps(dict(profile))))
        self._seq += 1
        self._flush_if_due()

    # --- committing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Commit everything buffered, in one transaction."""
        if self._closed:
            return
        self._close_chunk()
        self._last_commit = self._monotonic()
        if self._chunks:
            self._meta.update(packets=self.packets, samples=self.samples, last_at=self.last_at)
        if not (self._chunks or self._merges or self._events or self._calibrations or self._meta):
            return
        db = self._db
        try:
            db.execute("BEGIN")
            try:
                db.executemany(_INSERT_CHUNK, self._chunks)
                for first, last, row in self._merges:
                    db.execute("DELETE FROM chunks WHERE seq BETWEEN ? AND ?", (first, last))
                    db.execute(_INSERT_CHUNK, row)
                db.executemany(
                    "INSERT INTO events (seq, at, source, kind, data) VALUES (?,?,?,?,?)",
                    self._events,
                )
                db.executemany(
                    "INSERT INTO calibrations (seq, at, name, profile) VALUES (?,?,?,?)",
                    self._calibrations,
                )
                db.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [(k, dumps(v)) for k, v in self._meta.items()],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            # Whatever is buffered stays buffered: the next commit tries again.
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise RecordingError(f"cannot write {self.path}: {exc}") from exc
        if self.write_error is not None:
            log.warning(
                "recording resumed: %s (%d packets could not be kept)",
                self.path,
                self.packets_lost,
            )
            self.write_error = None
        self._chunks.clear()
        self._merges.clear()
        self._events.clear()
        self._calibrations.clear()
        self._meta.clear()
        self.commits += 1

    def close(self, ended_at: float | None = None) -> None:
        """Commit, write the end marker, and fold the WAL back so the session is one file."""
        if self._closed:
            return
        self._meta["ended_at"] = time.time() if ended_at is None else ended_at
        self._close_chunk()
        self._seal_run()
        try:
            self.flush()  # on a full disk this fails, and says so; the file stays valid
        finally:
            self._closed = True
            # A failure leaves a valid WAL database, which the reader copes with.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA journal_mode=DELETE")
            self._db.close()
            release_live_lock(self._lock)

    @property
    def closed(self) -> bool:
        return self._closed

    def _flush_if_due(self) -> None:
        if self._monotonic() - self._last_commit >= self.commit_interval_s:
            self.flush_or_wait()

    def flush_or_wait(self) -> bool:
        """Commit; if that fails (a full disk), keep the data waiting and try again next time.

        The stream goes on meanwhile. A warning is logged when commits start failing and when
        they work again; :attr:`write_error` says why while they fail. Returns whether it
        committed.
        """
        try:
            self.flush()
        except RecordingError as exc:
            if self.write_error is None:
                log.warning("%s; monitoring goes on, the recording is retried every second", exc)
            self.write_error = str(exc)
            self._limit_waiting()
            return False
        return True

    def _limit_waiting(self) -> None:
        waiting = sum(row[1] for row in self._chunks)
        if waiting <= MAX_WAITING_PACKETS:
            return
        # Give up the waiting notifications (their samples become a gap in the recording);
        # events, calibrations and metadata are small and keep waiting.
        self.packets_lost += waiting
        self.packets -= waiting
        self.samples -= sum(row[2] for row in self._chunks)
        self._chunks.clear()
        self._merges.clear()
        self._run = None
        self._meta.update(packets=self.packets, samples=self.samples)

    def _close_chunk(self) -> None:
        if not self._payloads:
            return
        seq, times, payloads = self._chunk_seq, self._times, self._payloads
        self._times = []
        self._payloads = []
        row = _chunk_row(seq, times, payloads, self._protocol)
        self._chunks.append(row)
        self.packets += len(payloads)
        self.samples += row[2]
        if self._run is not None and self._run.next_seq != seq:
            self._seal_run()  # an event came between: this run is over
        run = self._run = self._run or _Run(seq, seq)
        run.next_seq = seq + len(payloads)
        run.rows += 1
        run.size += len(row[-1])
        run.times.extend(times)
        run.payloads.extend(payloads)
        if run.size >= _MERGE_BYTES:
            self._seal_run()

    def _seal_run(self) -> None:
        run, self._run = self._run, None
        if run is not None and run.rows > 1:
            merged = _chunk_row(run.first_seq, run.times, run.payloads, self._protocol)
            self._merges.append((run.first_seq, run.next_seq - 1, merged))

    def _note_link_metadata(self, event: LinkEvent) -> None:
        data = link_event_data(event)
        if event.kind is LinkEventKind.DEVICE_INFO and "device_info" in data:
            self._meta["device"] = data["device_info"]
        elif event.kind is LinkEventKind.CONFIGURED and event.config is not None:
            self._meta["config"] = data["config"]
            self._meta["protocol"] = event.config.protocol
            self._protocol = protocol_named(event.config.protocol)

    # --- context manager ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _chunk_row(
    seq: int, times: list[float], payloads: list[bytes], protocol: SensorProtocol
) -> ChunkRow:
    """A row of the chunks table (docs/recording.md)."""
    times_blob = np.array(times, dtype="<f8").tobytes()
    lengths = np.array([len(p) for p in payloads], dtype="<u2").tobytes()
    data = b"".join(payloads)
    samples = sum(protocol.samples_in(p) for p in payloads)
    crc = zlib.crc32(data, zlib.crc32(lengths, zlib.crc32(times_blob)))
    return (seq, len(payloads), samples, times[0], times[-1], crc, times_blob, lengths, data)
