"""NudgeConfig validation, the config file (load, save, errors) and the TOML writer."""

from __future__ import annotations

import math
import os
import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import config as cfgfile
from monitor import tomlfile
from monitor.config import UserConfig, load_config, save_config
from monitor.errors import ConfigError
from monitor.nudge import NudgeConfig, QuietHours, parse_quiet_hours

# --- NudgeConfig -----------------------------------------------------------------------------


def test_defaults() -> None:
    config = NudgeConfig()
    assert (config.gentle_min, config.firm_min, config.snooze_min) == (45, 60, 10)
    assert [str(q) for q in config.quiet_hours] == ["22:00–07:00"]


def test_twenty_minutes_is_allowed() -> None:
    assert NudgeConfig(gentle_min=20, firm_min=20).firm_min == 20


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        ({"gentle_min": 19}, "gentle_min", "between 20"),
        ({"gentle_min": 50, "firm_min": 40}, "firm_min", "at least gentle_min"),
        ({"firm_min": 19}, "firm_min", "between 20"),
        ({"snooze_min": 0}, "snooze_min", "between 1"),
        ({"cooldown_min": -1}, "cooldown_min", "between 0"),
        ({"sustained_tilt_min": math.nan}, "sustained_tilt_min", "between"),
        ({"repeat_min": True}, "repeat_min", "number of minutes"),
        ({"gentle_min": "45"}, "gentle_min", "number of minutes"),
    ],
)
def test_invalid_settings_name_the_key(settings: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        NudgeConfig(**settings)
    assert caught.value.key == key
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["22:00"], "pairs"),
        (["25:00", "07:00"], "'25:00' is not a time of day"),
        (["7", "8:00"], "'7' is not a time of day"),
        (["08:00", "8:00"], "same time"),
    ],
)
def test_bad_quiet_hours(values: list[str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_quiet_hours(values)


def test_quiet_hours_pairs() -> None:
    assert parse_quiet_hours([]) == ()
    assert parse_quiet_hours(["22:00", "7:00", "12:30", "13:30"]) == (
        QuietHours.parse("22:00", "07:00"),
        QuietHours.parse("12:30", "13:30"),
    )


# --- the config file -------------------------------------------------------------------------


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "conf"
    monkeypatch.setenv(cfgfile.CONFIG_DIR_ENV, str(directory))
    return directory


def test_the_env_var_picks_the_directory(config_dir: Path) -> None:
    assert cfgfile.config_path() == config_dir / "config.toml"


def test_no_file_means_defaults(config_dir: Path) -> None:
    assert load_config() == UserConfig()


def test_round_trip_with_private_permissions(config_dir: Path, tmp_path: Path) -> None:
    config = UserConfig(
        nudge=NudgeConfig(
            gentle_min=30,
            firm_min=42.5,
            snooze_min=5,
            cooldown_min=0,
            quiet_hours=parse_quiet_hours(["23:00", "06:30", "12:00", "13:00"]),
            exercises_file=tmp_path / "my exercises.toml",
        ),
        posture={"anterior_deg": 12.5, "break_s": 60, "adapt_sitting_baseline": False},
    )
    path = save_config(config)
    assert path == config_dir / "config.toml"
    assert load_config() == config
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in config_dir.iterdir()] == ["config.toml"]  # no temporary left behind
    assert "gentle_min = 30\n" in path.read_text()


def test_saving_defaults_then_loading_gives_defaults(config_dir: Path) -> None:
    save_config(UserConfig())
    assert load_config() == UserConfig()
    assert 'quiet_hours = ["22:00", "07:00"]' in cfgfile.config_path().read_text()


def test_saving_replaces_the_old_file(config_dir: Path) -> None:
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=50)))
    save_config(UserConfig(nudge=NudgeConfig(gentle_min=25, firm_min=30)))
    assert load_config().nudge.gentle_min == 25


def test_a_relative_exercises_file_is_next_to_the_config(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.toml").write_text('[nudge]\nexercises_file = "mine.toml"\n')
    assert load_config().nudge.exercises_file == config_dir / "mine.toml"


def test_an_unsaveable_posture_value_is_an_error(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="posture: cannot be saved"):
        save_config(UserConfig(posture={"nested": {"a": 1}}))
    assert not (config_dir / "config.toml").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[nudge]\ngentle_min = 45\nfirm_min = \n", ":3: not valid TOML"),
        ("[nudge]\n\ngentle_min = 19\n", ":3: nudge.gentle_min: must be between 20"),
        ("[nudge]\ngentle_min = 50\nfirm_min = 40\n", ":3: nudge.firm_min: must be at least"),
        ('[nudge]\nsnooze_min = "10"\n', ":2: nudge.snooze_min: must be a number"),
        ("[nudge]\ngentel_min = 45\n", ":2: nudge.gentel_min: unknown setting"),
        ('[nudge]\nquiet_hours = "22:00-07:00"\n', ":2: nudge.quiet_hours: must be a list"),
        ('[nudge]\nquiet_hours = ["22:00", "7"]\n', ":2: nudge.quiet_hours: '7' is not"),
        ("[nudge]\nexercises_file = 3\n", ":2: nudge.exercises_file: must be a file path"),
        ("[posture]\n[nudges]\ngentle_min = 45\n", ":2: nudges: unknown table"),
        ("nudge = 3\n", "nudge: must be a table"),
    ],
)
def test_a_bad_file_names_the_file_line_and_key(config_dir: Path, text: str, expected: str) -> None:
    config_dir.mkdir()
    path = config_dir / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config()
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message


def test_posture_table_is_kept_as_a_plain_dict(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("[posture]\nanterior_deg = 12.0\n")
    loaded = load_config()
    assert dict(loaded.posture) == {"anterior_deg": 12.0}
    assert loaded.nudge == NudgeConfig()


# --- the TOML writer -------------------------------------------------------------------------

values = st.one_of(
    st.text(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.text(), max_size=4),
)


@given(st.dictionaries(st.text(), st.dictionaries(st.text(), values, max_size=5), max_size=4))
def test_writer_round_trips_through_tomllib(document: dict) -> None:
    assert tomllib.loads(tomlfile.dumps(document)) == document


def test_writer_writes_nan_and_refuses_nested_tables() -> None:
    assert math.isnan(tomllib.loads(tomlfile.dumps({"t": {"x": math.nan}}))["t"]["x"])
    with pytest.raises(TypeError, match="x: cannot write dict"):
        tomlfile.dumps({"t": {"x": {"y": 1}}})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("anterior = 12", ":2: posture.anterior: unknown setting; expected one of frame_s"),
        ('anterior_deg = "12"', ":2: posture.anterior_deg: must be a number, not '12'"),
        ("adapt_sitting_baseline = 1", "posture.adapt_sitting_baseline: must be true or false"),
        ("walk_band_hz = [0.6]", "posture.walk_band_hz: must be a list of 2 numbers"),
        ("walk_band_hz = [5.0, 0.6]", "posture.walk_band_hz: need 0 <= low < high"),
        ("frame_s = 1.0\nbreak_s = -5", ":3: posture.break_s: must be > 0"),
        ("anterior_deg = nan", "posture.anterior_deg: must be a finite number"),
    ],
)
def test_the_posture_table_is_checked(config_dir: Path, table: str, message: str) -> None:
    config_dir.mkdir()
    (config_dir / "config.toml").write_text(f"[posture]\n{table}\n")
    with pytest.raises(ConfigError) as error:
        load_config()
    assert message in str(error.value)
