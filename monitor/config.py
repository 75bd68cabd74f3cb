"""The wearer's config file: `config.toml` in the user config directory.

    [nudge]
    gentle_min = 45
    firm_min = 60
    quiet_hours = ["22:00", "07:00"]
    strict = false        # true: nudges cannot be snoozed or dismissed
    ...
    [posture]
    # the posture machine's thresholds: names and limits of monitor.posture.PostureConfig

A missing file means the defaults. A file that is there but wrong is an error naming the file, the
line (when it can be found) and the key: a setting is never silently ignored. Saving rewrites the
whole file atomically with mode 0600 (comments are not kept).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from monitor import tomlfile
from monitor.errors import ConfigError
from monitor.nudge import NudgeConfig, parse_quiet_hours

CONFIG_DIR_ENV = "TILTMON_CONFIG_DIR"  # overrides the platform's directory (tests, portable use)
CONFIG_FILE_NAME = "config.toml"
TABLES = ("nudge", "posture", "dashboard")

_NUDGE_MINUTES = (
    "gentle_min",
    "firm_min",
    "repeat_min",
    "snooze_min",
    "cooldown_min",
    "sustained_tilt_min",
)
_NUDGE_KEYS = (*_NUDGE_MINUTES, "quiet_hours", "exercises_file", "strict")


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("tiltmon"))


def config_path() -> Path:
    return config_dir() / CONFIG_FILE_NAME


@dataclass(frozen=True, slots=True)
class UserConfig:
    nudge: NudgeConfig = field(default_factory=NudgeConfig)
    # The posture machine's thresholds; its helper gives them a typed config of their own.
    posture: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    theme: str = ""  # the dashboard's colour theme, as last chosen ("": Textual's default)


def load_config(path: Path | None = None) -> UserConfig:
    """The settings in `path` (default: config_path()); the defaults if the file does not exist."""
    path = config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UserConfig()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=str(path)) from exc
    return loads_config(text, path)


def loads_config(text: str, path: Path) -> UserConfig:
    """Parse config text; `path` names the file in errors and anchors a relative exercises_file."""
    where = str(path)
    raw = tomlfile.parse(text, where)
    for table, value in raw.items():
        line = tomlfile.find_table_line(text, table)
        if table not in TABLES:
            raise ConfigError(
                f"unknown table; expected {', '.join(f'[{t}]' for t in TABLES)}",
                path=where,
                line=line,
                key=table,
            )
        if not isinstance(value, dict):
            raise ConfigError(f"must be a table: [{table}]", path=where, line=line, key=table)
    nudge = _nudge_from_table(raw.get("nudge", {}), text, path)
    posture = _posture_from_table(raw.get("posture", {}), text, path)
    theme = _theme_from_table(raw.get("dashboard", {}), text, path)
    return UserConfig(nudge=nudge, posture=MappingProxyType(posture), theme=theme)


def _theme_from_table(table: Mapping[str, Any], text: str, path: Path) -> str:
    """``[dashboard] theme``: a name (the dashboard falls back to its default if unknown)."""
    for key, value in table.items():
        line = tomlfile.find_line(text, "dashboard", key)
        if key != "theme":
            raise ConfigError(
                "unknown setting; expected theme", path=str(path), line=line, key=f"dashboard.{key}"
            )
        if not isinstance(value, str):
            raise ConfigError(
                f'must be a theme name in quotes, like "textual-light", not {value!r}',
                path=str(path),
                line=line,
                key="dashboard.theme",
            )
    return str(table.get("theme", ""))


def _posture_from_table(table: Mapping[str, Any], text: str, path: Path) -> dict[str, Any]:
    """The ``[posture]`` settings, checked as :class:`PostureConfig` checks its own fields."""
    from monitor.posture import PostureConfig, PostureConfigError

    where = str(path)

    def error(key: str, message: str) -> ConfigError:
        line = tomlfile.find_line(text, "posture", key)
        return ConfigError(message, path=where, line=line, key=f"posture.{key}")

    defaults = PostureConfig()
    known = [f.name for f in fields(PostureConfig)]
    settings: dict[str, Any] = {}  # as checked (lists as tuples)
    for key, value in table.items():
        if key not in known:
            raise error(key, f"unknown setting; expected one of {', '.join(known)}")
        default = getattr(defaults, key)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise error(key, f"must be true or false, not {value!r}")
        elif isinstance(default, tuple):
            if (
                not isinstance(value, list)
                or len(value) != len(default)
                or not all(_is_number(v) for v in value)
            ):
                raise error(key, f"must be a list of {len(default)} numbers, not {value!r}")
            value = tuple(float(v) for v in value)
        elif not _is_number(value):
            raise error(key, f"must be a number, not {value!r}")
        settings[key] = value
    try:
        PostureConfig(**settings)
    except PostureConfigError as exc:
        named = re.search(r"PostureConfig\.(\w+)", str(exc))
        key = named.group(1) if named and named.group(1) in settings else next(iter(settings))
        raise error(key, str(exc).split(": ", 1)[-1]) from exc
    return dict(table)  # as written: it saves back the same


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _nudge_from_table(table: Mapping[str, Any], text: str, path: Path) -> NudgeConfig:
    where = str(path)

    def error(key: str, message: str) -> ConfigError:
        line = tomlfile.find_line(text, "nudge", key)
        return ConfigError(message, path=where, line=line, key=f"nudge.{key}")

    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key in _NUDGE_MINUTES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise error(key, f"must be a number of minutes, not {value!r}")
            kwargs[key] = float(value)
        elif key == "quiet_hours":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise error(key, 'must be a list of times like ["22:00", "07:00"] ([] for none)')
            try:
                kwargs[key] = parse_quiet_hours(value)
            except ConfigError as exc:
                raise error(key, exc.message) from exc
        elif key == "exercises_file":
            if not isinstance(value, str):
                raise error(key, 'must be a file path in quotes ("" for the built-in exercises)')
            if value.strip():
                # A relative path is relative to the config file, wherever tiltmon was started.
                kwargs[key] = path.parent / Path(value.strip()).expanduser()
        elif key == "strict":
            if not isinstance(value, bool):
                raise error(key, f"must be true or false, not {value!r}")
            kwargs[key] = value
        else:
            raise error(key, f"unknown setting; expected one of {', '.join(_NUDGE_KEYS)}")
    try:
        return NudgeConfig(**kwargs)
    except ConfigError as exc:
        raise error(exc.key or "?", exc.message) from exc


def nudge_to_table(config: NudgeConfig) -> dict[str, tomlfile.Value]:
    table: dict[str, tomlfile.Value] = {}
    for key in _NUDGE_MINUTES:
        value = getattr(config, key)
        # Whole minutes read better as integers; they load back as the same float.
        table[key] = int(value) if math.isfinite(value) and value == int(value) else value
    table["quiet_hours"] = [
        f"{clock:%H:%M}" for quiet in config.quiet_hours for clock in (quiet.start, quiet.end)
    ]
    table["exercises_file"] = "" if config.exercises_file is None else str(config.exercises_file)
    table["strict"] = config.strict
    return table


def dumps_config(config: UserConfig) -> str:
    document: dict[str, Mapping[str, tomlfile.Value]] = {
        "nudge": nudge_to_table(config.nudge),
        "posture": dict(config.posture),
        "dashboard": {"theme": config.theme},
    }
    try:
        body = tomlfile.dumps(document)
    except TypeError as exc:
        raise ConfigError(f"cannot be saved: {exc}", key="posture") from exc
    return "# tiltmon settings (docs/nudges.md). Saving from tiltmon rewrites this file.\n\n" + body


def save_config(config: UserConfig, path: Path | None = None) -> Path:
    """Write the settings atomically (temporary file + rename), readable by the wearer only."""
    path = config_path() if path is None else path
    tomlfile.write_atomic(path, dumps_config(config))
    return path
