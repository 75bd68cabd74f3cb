"""The day's timeline as a PNG: posture bands, tilt lines with their neutral bands, nudges, gaps.

The only module that imports matplotlib (lazily, with the Agg backend: no display needed), so the
rest of tiltmon starts without it. The file is created readable by its owner only.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.activity import ActivitySnapshot, Posture, TiltZone
from monitor.nudge import NudgeLevel
from monitor.posture import PostureConfig
from monitor.private_files import private_output
from monitor.report import DayReport, headline
from monitor.totals import MAX_STEP_S

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FloatArray = npt.NDArray[np.float64]

POSTURE_COLOURS = {
    Posture.SITTING: "#e8833a",
    Posture.STANDING: "#4c8fd6",
    Posture.WALKING: "#5aa469",
    Posture.LYING: "#9b7fc9",
    Posture.UNKNOWN: "#c9c9c9",
    Posture.NON_WEAR: "#ececec",
}
NUDGE_COLOURS = {
    NudgeLevel.GENTLE: "#e3b505",
    NudgeLevel.FIRM: "#d1495b",
    NudgeLevel.TILT: "#6a4c93",
}
NEUTRAL_FILL = "#5aa469"
LINE = "#2f3640"
GAP_FILL = "#9aa0a6"


def draw_day(report: DayReport, path: Path, *, config: PostureConfig | None = None) -> Path:
    """Draw ``report``'s timeline to ``path`` (PNG, mode 0600, replaced if it exists)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    cfg = config or PostureConfig()
    snaps = report.snapshots
    t = np.array([s.t for s in snaps], dtype=np.float64)
    x = _mpl_dates(t)
    local = dt.datetime.now().astimezone().tzinfo  # the computer's zone (its offset today)

    with plt.rc_context(
        {
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.edgecolor": "#8a8f98",
            "axes.labelcolor": "#333333",
            "xtick.color": "#555555",
            "ytick.color": "#555555",
            "axes.titleweight": "bold",
        }
    ):
        fig, (ax_p, ax_s, ax_f) = plt.subplots(
            3,
            1,
            figsize=(13, 7.2),
            dpi=110,
            sharex=True,
            gridspec_kw={"height_ratios": [1.0, 2.2, 1.6], "hspace": 0.12},
        )
        fig.patch.set_facecolor("white")
        start = dt.datetime.fromtimestamp(report.start) if report.sessions else None
        day = f"{start:%A} {start.day} {start:%B %Y}" if start else report.title
        fig.suptitle(day, x=0.06, y=0.975, ha="left", fontsize=15, fontweight="bold")
        fig.text(0.06, 0.93, headline(report), ha="left", fontsize=11, color="#444444")

        _posture_bands(ax_p, snaps, x)
        _nudges(ax_p, report)
        ax_p.set_ylim(0, 1.62)
        ax_p.set_yticks([])
        ax_p.spines["left"].set_visible(False)
        ax_p.set_ylabel("posture", rotation=0, ha="right", va="center")
        present = {s.posture for s in snaps}
        handles: list[Any] = [
            Patch(color=POSTURE_COLOURS[p], label=p.value)
            for p in (Posture.SITTING, Posture.STANDING, Posture.WALKING, Posture.LYING)
            if p in present
        ]
        recorded = [d for d in report.recorded if d.kind == "shown"]
        levels = {n.level for n in report.nudges} | {NudgeLevel(d.level) for d in recorded}
        handles += [
            ax_p.scatter(
                [], [], marker="v", s=60, color=NUDGE_COLOURS[level], label=f"{level} nudge"
            )
            for level in NudgeLevel
            if level in levels
        ]
        if recorded:
            handles.append(
                ax_p.scatter(
                    [], [], marker="v", s=60, color="#555555", label="▼ top: shown (recorded)"
                )
            )
        if report.nudges:
            handles.append(
                ax_p.scatter(
                    [],
                    [],
                    marker="v",
                    s=30,
                    color="white",
                    edgecolors="#555555",
                    label="▽ below: today's algorithm (hollow: no break followed)",
                )
            )
        handles.append(Patch(facecolor="white", edgecolor=GAP_FILL, hatch="///", label="no data"))
        ax_p.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.02),
            ncol=len(handles),
            frameon=False,
            fontsize=9,
            handlelength=1.2,
            columnspacing=1.2,
        )

        sag = np.array([s.sagittal_deg for s in snaps], dtype=np.float64)
        fro = np.array([s.frontal_deg for s in snaps], dtype=np.float64)
        lo, hi = _sagittal_band(snaps, cfg)
        _tilt(ax_s, x, t, sag, lo, hi, "sagittal tilt (°)\n+ forward, − slumped")
        flo, fhi = _frontal_band(snaps, cfg)
        _tilt(ax_f, x, t, fro, flo, fhi, "frontal tilt (°)\n+ right hip low")

        for ax in (ax_p, ax_s, ax_f):
            for gap in report.gaps:
                ax.axvspan(
                    *_mpl_dates(np.array([gap.start, gap.end])),
                    facecolor="white",
                    edgecolor=GAP_FILL,
                    hatch="///",
                    linewidth=0,
                    zorder=0.5,
                )
        if len(x):
            pad = max((x[-1] - x[0]) * 0.01, 1 / 1440)
            ax_f.set_xlim(x[0] - pad, x[-1] + pad)
        locator = mdates.AutoDateLocator(tz=local, minticks=6, maxticks=14)
        ax_f.xaxis.set_major_locator(locator)
        ax_f.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=local))
        ax_f.set_xlabel(f"local time ({dt.datetime.now().astimezone():%Z})")
        fig.subplots_adjust(left=0.1, right=0.98, top=0.84, bottom=0.08)
        _save_private(fig, path)
        plt.close(fig)
    return path


def _mpl_dates(t: FloatArray) -> FloatArray:
    """Epoch seconds as matplotlib date numbers (days since matplotlib's epoch)."""
    import matplotlib.dates as mdates

    epoch = mdates.date2num(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    return np.asarray(t, dtype=np.float64) / 86400.0 + float(epoch)


def _runs(snaps: list[ActivitySnapshot]) -> list[tuple[int, int]]:
    """Index ranges [i, j) of consecutive snapshots with one posture and no gap."""
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(snaps) + 1):
        if (
            i == len(snaps)
            or snaps[i].posture is not snaps[start].posture
            or snaps[i].t - snaps[i - 1].t > MAX_STEP_S
        ):
            runs.append((start, i))
            start = i
    return runs if snaps else []


def _posture_bands(ax: Axes, snaps: list[ActivitySnapshot], x: FloatArray) -> None:
    spans: defaultdict[Posture, list[tuple[float, float]]] = defaultdict(list)
    second = 1 / 86400
    for i, j in _runs(snaps):
        end = (
            x[j] if j < len(x) and snaps[j].t - snaps[j - 1].t <= MAX_STEP_S else x[j - 1] + second
        )
        spans[snaps[i].posture].append((float(x[i]), float(end - x[i])))
    for posture, ranges in spans.items():
        ax.broken_barh(ranges, (0.1, 0.8), facecolors=POSTURE_COLOURS[posture], linewidth=0)


def _nudges(ax: Axes, report: DayReport) -> None:
    """What the wearer was shown (recorded) on top; what today's algorithm gives below it."""
    for decision in report.recorded:
        if decision.kind != "shown" or decision.level not in NudgeLevel.__members__.values():
            continue
        ax.scatter(
            _mpl_dates(np.array([decision.t])),
            [1.42],
            marker="v",
            s=70,
            color=NUDGE_COLOURS[NudgeLevel(decision.level)],
            zorder=3,
        )
    for nudge in report.nudges:
        followed = report.outcomes.get(nudge.t)
        colour = NUDGE_COLOURS[nudge.level]
        ax.scatter(
            _mpl_dates(np.array([nudge.t])),
            [1.15],
            marker="v",
            s=40,
            color=colour if followed is not False else "white",
            edgecolors=colour,
            linewidths=1.2,
            zorder=3,
        )


def _tilt(
    ax: Axes,
    x: FloatArray,
    t: FloatArray,
    angle: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    label: str,
) -> None:
    breaks = np.flatnonzero(np.diff(t) > MAX_STEP_S) + 1
    xs, ys = np.insert(x, breaks, np.nan), np.insert(angle, breaks, np.nan)
    ax.fill_between(
        x, lo, hi, where=np.isfinite(lo), step="mid", color=NEUTRAL_FILL, alpha=0.16, linewidth=0
    )
    ax.plot(xs, ys, color=LINE, linewidth=0.7)
    ax.axhline(0, color="#8a8f98", linewidth=0.6, linestyle=":")
    finite = np.abs(angle[np.isfinite(angle)])
    top = float(np.percentile(finite, 99.5)) if finite.size else 10.0
    limit = min(60.0, max(15.0, math.ceil((top + 3) / 5) * 5))
    ax.set_ylim(-limit, limit)
    ax.set_ylabel(label)
    ax.grid(axis="y", color="#e6e6e6", linewidth=0.6)
    ax.text(
        0.995,
        0.96,
        "shaded: neutral zone",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=8,
        color="#3d7a4a",
    )


def _sagittal_band(snaps: list[ActivitySnapshot], cfg: PostureConfig) -> tuple[Any, Any]:
    """The neutral sagittal range each second: 0° ± thresholds upright; while sitting, around
    the bout's upright sitting level (the median of its neutral seconds: the posture machine's
    learned baseline is internal, and this matches the zones it reported)."""
    n = len(snaps)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    levels: dict[float | None, list[float]] = defaultdict(list)
    for s in snaps:
        if s.posture is Posture.SITTING and s.zone is TiltZone.NEUTRAL:
            levels[s.sitting_bout_start].append(s.sagittal_deg)
    base = {k: statistics.median(v) for k, v in levels.items() if v}
    for i, s in enumerate(snaps):
        if s.posture is Posture.SITTING:
            level = base.get(s.sitting_bout_start, cfg.sitting_baseline_deg)
        elif s.posture.upright:
            level = 0.0
        else:
            continue
        lo[i], hi[i] = level - cfg.posterior_deg, level + cfg.anterior_deg
    return lo, hi


def _frontal_band(snaps: list[ActivitySnapshot], cfg: PostureConfig) -> tuple[Any, Any]:
    keep = np.array([s.posture is Posture.SITTING or s.posture.upright for s in snaps], dtype=bool)
    lo = np.where(keep, -cfg.lateral_deg, np.nan)
    return lo, -lo


def _save_private(fig: Any, path: Path) -> None:
    with private_output(path, binary=True) as f:
        fig.savefig(f, format="png", facecolor="white")
