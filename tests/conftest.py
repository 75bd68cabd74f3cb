"""Suite-wide fixtures."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # `tiltmon stream` records by default: keep the suite's sessions (including those of
    # subprocesses, which inherit the environment) out of the user's data directory.
    path = tmp_path_factory.mktemp("tiltmon-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TILTMON_DATA_DIR", str(path))
        yield path


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A short private directory: a Unix socket's path must stay under about 100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="tm-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def bluez_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tier B: every in-guest scenario, run through real BlueZ in one VM boot per session
    (tests/bluez/vm.py). Without the VM's prerequisites it skips, except under CI, where a
    tier that silently skipped would prove nothing: there it fails."""
    from bluez.vm import (
        INSTALL_HINT,
        RESULTS_ENV_VAR,
        VmError,
        find_prerequisites,
        load_results,
        run_guest,
        under_ci,
    )

    if os.environ.get(RESULTS_ENV_VAR):  # re-check an earlier VM run without booting again
        return load_results(Path(os.environ[RESULTS_ENV_VAR]))
    prerequisites, missing = find_prerequisites()
    if prerequisites is None:
        message = f"the BlueZ tier needs {', '.join(missing)} ({INSTALL_HINT})"
        if under_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        return run_guest(prerequisites, tmp_path_factory.mktemp("bluez"))
    except VmError as exc:
        pytest.fail(str(exc), pytrace=False)
