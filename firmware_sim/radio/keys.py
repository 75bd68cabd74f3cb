"""Bonds that outlive the process: a bumble JSON key store kept owner-only, and the radio's
identity address next to it.

A bond belongs to a pair of identity addresses, so a radio that keeps bonds must keep its own
address too: the store's single namespace is that address, and a radio opened on the same file
takes it up again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.keys import JsonKeyStore


class PrivateJsonKeyStore(JsonKeyStore):
    """``JsonKeyStore`` whose file is 0600 in a 0700 directory, written atomically."""

    def __init__(self, namespace: str, path: Path) -> None:
        super().__init__(namespace, str(path))

    async def save(self, db: dict[str, dict[str, dict[str, Any]]]) -> None:
        _write_private(Path(self.filename), db)


def _write_private(path: Path, db: dict[str, Any]) -> None:
    """Write ``db`` as JSON to ``path`` (0600, directory 0700), replacing it atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A temporary file of its own (mkstemp: 0600), so that two processes never share one.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(db, out, sort_keys=True, indent=2)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def identity_for(path: Path) -> hci.Address:
    """The radio's identity address kept in the key store at ``path`` (a new random static
    address, recorded at once, if the store is new)."""
    try:
        db = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        db = {}
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a key store ({error})") from error
    if not isinstance(db, dict) or len(db) > 1:
        raise ValueError(f"{path}: expected one radio's bonds, found {len(db)}")
    if db:
        return hci.Address(next(iter(db)), hci.Address.RANDOM_DEVICE_ADDRESS)
    address = hci.Address.generate_static_address()
    _write_private(path, {str(address): {}})
    return address
