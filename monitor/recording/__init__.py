"""Sessions on disk: record a session's raw items, list sessions, read them back.

One SQLite file per session (docs/recording.md). :class:`SessionRecorder` is a listener the
pipeline feeds (or wrap a transport in :class:`RecordingTransport`); :class:`Recording` reads a
file back, and ``replay:FILE`` (:mod:`monitor.transport.replay`) plays it as a transport.
"""

from monitor.recording.paths import DATA_DIR_ENV_VAR, data_dir, new_session_path, sessions_dir
from monitor.recording.reader import (
    AppEvent,
    CalibrationRecord,
    Recording,
    SessionInfo,
    list_sessions,
    read_info,
)
from monitor.recording.schema import APPLICATION_ID, SCHEMA_VERSION, SUFFIX, RecordingError
from monitor.recording.tee import RecordingTransport
from monitor.recording.writer import SessionRecorder

__all__ = [
    "APPLICATION_ID",
    "DATA_DIR_ENV_VAR",
    "SCHEMA_VERSION",
    "SUFFIX",
    "AppEvent",
    "CalibrationRecord",
    "Recording",
    "RecordingError",
    "RecordingTransport",
    "SessionInfo",
    "SessionRecorder",
    "data_dir",
    "list_sessions",
    "new_session_path",
    "read_info",
    "sessions_dir",
]
