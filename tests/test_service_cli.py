"""`tiltmon service install | status` and the strict setting, through the command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_config, save_config
from monitor.errors import ConfigError


@pytest.fixture(autouse=True)
def _homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TILTMON_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("TILTMON_DATA_DIR", str(tmp_path / "data"))


def unit_path(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "systemd" / "user" / "tiltmon.service"


def test_install_writes_a_user_unit_that_runs_the_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--sensor", "C0:FF:EE:00:7F:3A", "--strict"]) == 0
    text = unit_path(tmp_path).read_text(encoding="utf-8")
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_start == (
        f"ExecStart={sys.executable} -m monitor.cli service run --sensor C0:FF:EE:00:7F:3A --strict"
    )
    assert "WantedBy=default.target" in text and "Restart=on-failure" in text
    assert "UMask=0077" in text
    assert "systemctl --user enable --now tiltmon.service" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_unit_passes_systemd_s_own_check(tmp_path: Path) -> None:
    assert main(["service", "install"]) == 0
    result = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit_path(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Without a running user manager some checks cannot run; the unit's syntax is still read.
    problems = [
        line
        for line in result.stderr.splitlines()
        if "tiltmon.service" in line and ("Unknown" in line or "Invalid" in line)
    ]
    assert problems == []


def test_install_never_replaces_a_different_unit_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install"]) == 0
    before = unit_path(tmp_path).read_text(encoding="utf-8")
    assert main(["service", "install", "--no-notify"]) == 1
    err = capsys.readouterr().err
    assert "exists and differs: add --force" in err and err.count("\n") == 1
    assert unit_path(tmp_path).read_text(encoding="utf-8") == before
    assert main(["service", "install", "--no-notify", "--force"]) == 0
    assert "--no-notify" in unit_path(tmp_path).read_text(encoding="utf-8")
    assert main(["service", "install", "--no-notify"]) == 0  # the same again: fine


def test_status_without_a_service_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "status", "--socket", str(tmp_path / "none.sock")]) == 1
    assert "no tiltmon service is running" in capsys.readouterr().out


def test_strict_mode_is_a_setting_checked_like_the_others(tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[nudge]\nstrict = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config.toml:2: nudge\.strict: must be true or false"):
        load_config()
    path.write_text("[nudge]\nstrict = true\n", encoding="utf-8")
    config = load_config()
    assert config.nudge.strict
    save_config(config)
    assert load_config().nudge.strict
