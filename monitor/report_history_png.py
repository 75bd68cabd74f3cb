"""A week's or a month's days as a PNG: time per posture, bouts and breaks, time per tilt zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monitor.activity import Posture, TiltZone
from monitor.private_files import private_output
from monitor.report_history import History
from monitor.report_png import POSTURE_COLOURS

ZONE_COLOURS = {
    TiltZone.NEUTRAL: "#5aa469",
    TiltZone.ANTERIOR: "#e3b505",
    TiltZone.POSTERIOR: "#d1495b",
    TiltZone.LATERAL_LEFT: "#4c8fd6",
    TiltZone.LATERAL_RIGHT: "#9b7fc9",
}


# Beside the axes, not over the bars.
LEGEND: dict[str, object] = {"loc": "upper left", "bbox_to_anchor": (1.0, 1.0), "fontsize": "small"}


def draw_history(history: History, path: Path) -> Path:
    """Draw the days to ``path`` (PNG, mode 0600, replaced if it exists)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    days = history.days
    x = np.arange(len(days))
    labels = [f"{d.date:%a\n%d %b}" if len(days) <= 10 else f"{d.date:%d}" for d in days]
    fig, (time_ax, bout_ax, zone_ax) = plt.subplots(
        3, 1, figsize=(max(9.0, 0.45 * len(days) + 4), 9), sharex=True, layout="constrained"
    )
    fig.suptitle(
        f"tiltmon {history.first:%d %b} – {history.last:%d %b %Y}"
        f" ({len(history.recorded)} of {len(days)} days recorded)"
    )

    bottom = np.zeros(len(days))
    for posture, attr in (
        (Posture.SITTING, "sitting_min"),
        (Posture.STANDING, "standing_min"),
        (Posture.WALKING, "walking_min"),
    ):
        hours = np.array([getattr(d, attr) / 60 for d in days])
        time_ax.bar(x, hours, bottom=bottom, color=POSTURE_COLOURS[posture], label=posture.value)
        bottom += hours
    time_ax.set_ylabel("hours")
    time_ax.legend(**LEGEND)
    time_ax.set_title("Time per posture", loc="left", fontsize="medium")

    width = 0.2
    series = (
        ("bouts over 30 min", "bouts_over_30_min", "#e3b505"),
        ("bouts over 60 min", "bouts_over_60_min", "#d1495b"),
        ("breaks", "breaks", "#4c8fd6"),
        ("nudges followed", "nudges_followed", "#5aa469"),
    )
    for i, (label, attr, colour) in enumerate(series):
        values = [getattr(d, attr) for d in days]
        bout_ax.bar(x + (i - 1.5) * width, values, width, color=colour, label=label)
    bout_ax.set_ylabel("count")
    bout_ax.legend(**LEGEND)
    bout_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    bout_ax.set_title(
        "Long sitting bouts, breaks and nudges followed", loc="left", fontsize="medium"
    )

    bottom = np.zeros(len(days))
    for zone in TiltZone:
        hours = np.array([d.zone_min.get(zone.value, 0.0) / 60 for d in days])
        zone_ax.bar(x, hours, bottom=bottom, color=ZONE_COLOURS[zone], label=zone.value)
        bottom += hours
    zone_ax.set_ylabel("hours")
    zone_ax.legend(**LEGEND)
    zone_ax.set_title("Time per tilt zone (sitting and standing)", loc="left", fontsize="medium")
    zone_ax.set_xticks(x, labels, fontsize="small")
    for ax in (time_ax, bout_ax, zone_ax):
        ax.margins(x=0.01)
        ax.grid(axis="y", alpha=0.3)
        for i, d in enumerate(days):
            if not d.sessions:
                ax.axvspan(i - 0.5, i + 0.5, color="#eeeeee", zorder=0)
    with private_output(path, binary=True) as f:
        fig.savefig(f, format="png", facecolor="white")
    plt.close(fig)
    return path
