"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # `tiltmon stream` records by default: keep the suite's sessions (including those of
    # subprocesses, which inherit the environment) out of the user's data directory.
    path = tmp_path_factory.mktemp("tiltmon-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TILTMON_DATA_DIR", str(path))
        yield path
