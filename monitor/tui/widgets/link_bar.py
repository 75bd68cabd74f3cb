"""One line at the top: the sensor and its link, or the replay's position."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text

from monitor.recording import SessionRecorder
from monitor.transport.replay import ReplayTransport
from monitor.tui.state import DashboardState
from monitor.tui.widgets.panel import LivePanel


def clock(seconds: float) -> str:
    minutes, s = divmod(int(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{s:02d}" if hours else f"{minutes:02d}:{s:02d}"


def recording_paused(recorder: SessionRecorder | None) -> str | None:
    """What to tell the wearer while the recording cannot be written, else None."""
    if recorder is None or recorder.write_error is None:
        return None
    why = "disk full" if "full" in recorder.write_error.lower() else "cannot write the file"
    return f"Recording paused: {why}; monitoring and nudges go on"


class LinkBar(LivePanel):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "link--app",
        "link--ok",
        "link--warn",
        "link--error",
        "link--dim",
    }
    DEFAULT_CSS = """
    LinkBar {
        height: 1;
        border: none;
        padding: 0 1;
        background: $panel;
    }
    LinkBar > .link--app { text-style: bold; color: $text-primary; }
    LinkBar > .link--ok { color: $text-success; }
    LinkBar > .link--warn { color: $text-warning; text-style: bold; }
    LinkBar > .link--error { color: $text-error; text-style: bold; }
    LinkBar > .link--dim { color: $text-muted; }
    """

    def __init__(
        self,
        label: str,
        replay: ReplayTransport | None,
        *,
        recorder: SessionRecorder | None = None,
        id: str | None = None,
    ):
        super().__init__(id=id)
        self.label = label
        self.replay = replay
        self.recorder = recorder  # to say when the recording cannot be written (a full disk)

    def build(self, state: DashboardState) -> Text:
        link = state.live.link
        stats = state.live.assembler.stats
        dim = self.style_of("link--dim")
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append("tiltmon ", self.style_of("link--app"))
        name = link.device_name or (state.device.name if state.device else "") or self.label
        if state.error is not None:
            out.append(f"✕ {state.error}", self.style_of("link--error"))
            return out
        paused = recording_paused(self.recorder)
        if paused is not None:
            # First on the line: the ellipsis may cut the link's figures, never this.
            out.append(f"⚠ {paused} · ", self.style_of("link--warn"))
        if self.replay is not None:
            self._replay(out, state)
            out.append(f" · {name}", dim)
        elif state.ended:
            out.append(f"■ {name}: the stream ended", self.style_of("link--warn"))
        elif link.streaming:
            out.append("● ", self.style_of("link--ok"))
            out.append(name)
        elif link.adapter_gone:
            gone = "◌ the Bluetooth adapter went away, reopening it…"
            out.append(gone, self.style_of("link--warn"))
            out.append(" (today's numbers are kept)", dim)
            return out
        elif link.last_event.startswith(("disconnected", "reconnecting")):
            out.append(f"◌ {name}: sensor lost, reconnecting…", self.style_of("link--warn"))
            out.append(" (today's numbers are kept)", dim)
            return out
        else:
            out.append(f"◌ looking for {name}…", dim)
            return out
        figures = []
        if link.rate_hz:
            figures.append(f"{link.rate_hz} Hz")
        if link.battery_percent is not None:
            figures.append(f"battery {link.battery_percent}%")
        elif link.streaming:
            figures.append("no battery level")  # the sensor has no Battery service
        if link.note:
            figures.append(link.note)  # what the sensor could not do as asked
        figures.append(f"lost {stats.lost}")
        if stats.reconnects:
            figures.append(f"reconnects {stats.reconnects}")
        out.append(" · " + " · ".join(figures), dim)
        return out

    def _replay(self, out: Text, state: DashboardState) -> None:
        replay = self.replay
        assert replay is not None
        if state.ended or replay.finished:
            out.append("■ end of recording (r: play again) ", self.style_of("link--warn"))
        elif replay.paused:
            out.append("⏸ paused ", self.style_of("link--warn"))
        else:
            out.append("▶ replay ", self.style_of("link--ok"))
        out.append(f"{clock(replay.position_s)} / {clock(replay.duration_s)}")
        speed = replay.speed
        out.append(f" · {'max' if speed is None else f'{speed:g}×'}", self.style_of("link--dim"))
