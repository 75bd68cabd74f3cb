"""Settings: nudge times, snooze and quiet hours, saved to the config file, checked as you save.

Posture thresholds are not here yet: the config file's ``[posture]`` table has no typed settings
that the live pipeline reads (docs/dashboard.md); it is kept as it is when saving.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from monitor.config import UserConfig, config_path, load_config, save_config
from monitor.errors import ConfigError
from monitor.nudge import NudgeConfig, QuietHours

if TYPE_CHECKING:
    from monitor.tui.app import DashboardApp

# (field, label, help) in the order shown.
FIELDS = (
    ("gentle_min", "Gentle nudge after", "minutes of sitting (20 or more)"),
    ("firm_min", "Firm nudge after", "minutes of sitting (at least the gentle one)"),
    ("repeat_min", "Then repeat every", "minutes while you sit on (5 or more)"),
    ("snooze_min", "Snooze for", "minutes"),
    ("quiet_hours", "Quiet hours", "e.g. 22:00-07:00, 12:30-13:30 (empty: none)"),
)


def format_quiet_hours(ranges: tuple[QuietHours, ...]) -> str:
    return ", ".join(f"{q.start:%H:%M}-{q.end:%H:%M}" for q in ranges)


def parse_quiet_hours_text(text: str) -> tuple[QuietHours, ...]:
    ranges = []
    for part in text.replace("–", "-").split(","):
        if not part.strip():
            continue
        start, sep, end = part.partition("-")
        if not sep:
            message = f"{part.strip()!r} is not a range like 22:00-07:00"
            raise ConfigError(message, key="quiet_hours")
        ranges.append(QuietHours.parse(start, end))
    return tuple(ranges)


def parse_settings(
    values: dict[str, str], base: NudgeConfig
) -> tuple[NudgeConfig | None, dict[str, str]]:
    """The new nudge settings, or the errors by field (each field checked, not just the first)."""
    errors: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    for name, text in values.items():
        try:
            if name == "quiet_hours":
                kwargs[name] = parse_quiet_hours_text(text)
            else:
                kwargs[name] = float(text.strip())
        except ValueError:
            errors[name] = "must be a number of minutes"
        except ConfigError as exc:
            errors[name] = exc.message
    if errors:
        return None, errors
    try:
        return replace(base, **kwargs), {}
    except ConfigError as exc:
        return None, {exc.key or "gentle_min": exc.message}


class SettingsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > Vertical {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $primary;
        border-title-color: $text-primary;
        background: $surface;
        padding: 0 1;
    }
    SettingsScreen .row { height: auto; margin-bottom: 1; }
    SettingsScreen .field-label { width: 20; padding-right: 1; text-align: right; }
    SettingsScreen .field { height: auto; width: 1fr; }
    SettingsScreen Input { width: 100%; background: $boost; }
    SettingsScreen Input:focus { background: $primary 20%; }
    SettingsScreen .field-help { color: $text-muted; height: auto; }
    SettingsScreen .field-help.-error { color: $text-error; text-style: bold; }
    SettingsScreen #settings-where { color: $text-muted; height: auto; }
    SettingsScreen #settings-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    SettingsScreen Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config: UserConfig | None = None

    @property
    def dashboard(self) -> DashboardApp:
        from monitor.tui.app import DashboardApp

        assert isinstance(self.app, DashboardApp)
        return self.app

    def compose(self) -> ComposeResult:
        nudge = self.dashboard.state.nudge_config
        with Vertical() as box:
            box.border_title = "Settings"
            for name, label, help_text in FIELDS:
                value = getattr(nudge, name)
                text = format_quiet_hours(value) if name == "quiet_hours" else f"{value:g}"
                with Horizontal(classes="row"):
                    yield Label(label, classes="field-label")
                    with Vertical(classes="field"):
                        yield Input(text, id=f"field-{name}", compact=True)
                        yield Static(help_text, id=f"help-{name}", classes="field-help")
            yield Static(f"ctrl+s saves to {config_path()}", id="settings-where")
            with Horizontal(id="settings-buttons"):
                yield Button("Save  ctrl+s", id="save", variant="primary", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.dashboard.blink

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def on_input_submitted(self) -> None:
        self.action_save()

    def action_cancel(self) -> None:
        self.dismiss()

    def action_save(self) -> None:
        values = {name: self.query_one(f"#field-{name}", Input).value for name, _, _ in FIELDS}
        try:
            current = load_config()  # keep what this screen does not show, as it is on disk
        except ConfigError as exc:
            self.notify(f"The config file has an error, not saved: {exc}", severity="error")
            return
        nudge, errors = parse_settings(values, current.nudge)
        for name, _, help_text in FIELDS:
            help_widget = self.query_one(f"#help-{name}", Static)
            help_widget.update(errors.get(name, help_text))
            help_widget.set_class(name in errors, "-error")
        if nudge is None:
            first = next(name for name, _, _ in FIELDS if name in errors)
            self.query_one(f"#field-{first}", Input).focus()
            return
        path = save_config(replace(current, nudge=nudge))
        self.dashboard.apply_nudge_config(nudge)
        self.dashboard.notify(f"Settings saved to {path}", timeout=4)
        self.dismiss()
