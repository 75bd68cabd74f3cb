"""Files with health data or settings: readable by the owner only, and never seen half-written.

Every writer of such a file goes through :func:`private_output`: the content goes to a temporary
file in the same directory (created 0600 from the start, so nobody else can read it even
briefly), is flushed to disk, and only then renamed over the target. If writing fails, the
temporary file is removed and the target keeps its old content.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from monitor.errors import MonitorError

# A file that starts like this and carries this application id is a tiltmon recording
# (monitor/recording/schema.py; read here from the SQLite header so this module stays low).
_SQLITE_MAGIC = b"SQLite format 3\x00"
_RECORDING_APP_ID = 0x544C544D
# Errors of the disk rather than of the caller: reported as "cannot write PATH: reason".
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS})


class OutputError(MonitorError):
    """An output file cannot or must not be written (it is an input, a recording, a folder)."""


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each 0700 whatever the umask.

    ``mkdir``'s mode passes through the umask (0o277 would leave the owner unable to write, and
    ``parents=True`` gives the parents the default mode), so each folder created here is set to
    0700 explicitly. Folders that already existed are left as they are.
    """
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs
        os.chmod(folder, 0o700)


def is_recording(path: Path) -> bool:
    """Whether ``path`` is a tiltmon session file (judged by its header, not its name)."""
    try:
        with path.open("rb") as f:
            header = f.read(72)
    except OSError:
        return False
    return (
        header.startswith(_SQLITE_MAGIC)
        and len(header) == 72
        and int.from_bytes(header[68:72], "big") == _RECORDING_APP_ID
    )


def check_output(path: Path, *, inputs: Iterable[Path] = (), force: bool = False) -> None:
    """Refuse, in one line, to write ``path`` where that would lose data.

    Never over one of ``inputs`` or over a recording (not even with ``force``); never over a
    folder; over any other existing file only with ``force``. A parent that is a file is named.
    """
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"cannot write {path}: {parent} is not a folder")
            break
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    for source in inputs:
        try:
            same = os.path.samefile(path, source)
        except OSError:
            same = False
        if same:
            raise OutputError(f"will not write over the input {source}: choose another output")
    if is_recording(path):
        raise OutputError(f"will not write over the recording {path}: choose another output")
    if not force:
        raise OutputError(f"{path} exists: pass --force to replace it")


@contextmanager
def private_output(path: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Open ``path`` for writing, owner-only, replaced atomically when the block ends well."""
    try:
        make_private_dirs(path.parent)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, 0o600)  # mkstemp's mode already; stated so the guarantee is visible here
        mode = "wb" if binary else "w"
        options: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **options) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        if exc.errno in _WRITE_ERRNOS:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
        raise
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
