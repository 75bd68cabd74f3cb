"""Words and small text bars for the dashboard (no textual: unit-testable)."""

from __future__ import annotations

import math

from monitor.activity import Posture, TiltZone

ZONE_WORDS = {
    TiltZone.NEUTRAL: "neutral",
    TiltZone.ANTERIOR: "tipped forward",
    TiltZone.POSTERIOR: "slumped back",
    TiltZone.LATERAL_LEFT: "left hip low",
    TiltZone.LATERAL_RIGHT: "right hip low",
}

POSTURE_WORDS = {
    Posture.SITTING: "Sitting",
    Posture.STANDING: "Standing",
    Posture.WALKING: "Walking",
    Posture.LYING: "Lying down",
    Posture.UNKNOWN: "Settling…",
    Posture.NON_WEAR: "Not worn",
}


def duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 05 min': as precise as a glance needs."""
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short_duration(seconds: float) -> str:
    """'45s', '12m', '1h05': for tight columns."""
    if seconds < 60:
        return f"{max(seconds, 0.0):.0f}s"
    minutes = int(max(seconds, 0.0) // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}"


def angle(deg: float) -> str:
    return "  –  " if not math.isfinite(deg) else f"{deg:+5.1f}°"


def bar(fraction: float, width: int) -> tuple[str, str]:
    """A progress bar in eighths of a cell: (filled part, empty part), for two styles."""
    width = max(width, 1)
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    filled = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return filled, "·" * (width - len(filled))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
