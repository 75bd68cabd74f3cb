"""Files with health data or settings: readable by the owner only, and never seen half-written.

Every writer of such a file goes through :func:`private_output`: the content goes to a temporary
file in the same directory (created 0600 from the start, so nobody else can read it even
briefly), is flushed to disk, and only then renamed over the target. If writing fails, the
temporary file is removed and the target keeps its old content.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def private_output(path: Path, *, binary: bool = False) -> Iterator[IO[Any]]:
    """Open ``path`` for writing, owner-only, replaced atomically when the block ends well."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.fchmod(fd, 0o600)  # mkstemp's mode already; stated so the guarantee is visible here
        mode = "wb" if binary else "w"
        options: dict[str, Any] = {} if binary else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **options) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
