"""Where sessions live, and creating their files readable by the owner only."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; sessions are then told live by their age
    fcntl = None  # type: ignore[assignment]

from monitor.private_files import make_private_dirs
from monitor.recording.schema import SUFFIX, RecordingError

DATA_DIR_ENV_VAR = "TILTMON_DATA_DIR"


def data_dir() -> Path:
    """``$TILTMON_DATA_DIR``, else the platform's user data directory for tiltmon."""
    override = os.environ.get(DATA_DIR_ENV_VAR)
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("tiltmon"))


def sessions_dir() -> Path:
    return data_dir() / "sessions"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` if needed, owner-only (0700), as are any parents it has to create."""
    make_private_dirs(path)
    # An existing sessions directory is made private too.
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def create_private_file(path: Path) -> None:
    """Create an empty file readable by its owner only; fail if it exists.

    SQLite gives the -wal and -shm files it creates next to a database the database file's
    permissions, so creating this file 0600 keeps the whole session private.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise RecordingError(f"{path} exists: will not overwrite a recording") from exc
    except OSError as exc:
        raise RecordingError(f"cannot create {path}: {exc.strerror}") from exc
    os.fchmod(fd, 0o600)  # whatever the umask
    os.close(fd)


def new_session_path(started_at: float, directory: Path | None = None) -> Path:
    """A fresh file name from the local start time, e.g. ``2025-06-01T14-03-22.tiltmon``."""
    directory = directory if directory is not None else sessions_dir()
    ensure_private_dir(directory)
    stamp = dt.datetime.fromtimestamp(started_at).strftime("%Y-%m-%dT%H-%M-%S")
    path = directory / f"{stamp}{SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{stamp}-{n}{SUFFIX}"
    return path


def hold_live_lock(path: Path) -> int | None:
    """Mark ``path`` as being written: an exclusive advisory lock, held until released.

    ``flock`` locks are separate from SQLite's own (``fcntl`` byte ranges) on Linux and macOS,
    so this does not get in the way of the database. Returns the descriptor to release.
    """
    if fcntl is None:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def release_live_lock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the lock


def is_being_written(path: Path) -> bool | None:
    """Whether a recorder holds ``path`` now; None where that cannot be told (no locks)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False
