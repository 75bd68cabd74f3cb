"""Posture over runs of samples separated by gaps in time, without bridging the gaps.

What happened while no samples came is unknown, so seconds without data are never classified:
the classifier's frames follow the samples' own times, and a gap simply has no frames (no
sitting time is counted in it). A short gap (lost packets, a reconnect) leaves the classifier
running, so a bout and what it learned go on across it. After a gap longer than
:data:`RESET_AFTER_S` the classifier starts afresh, as for a new recording: a two-hour hole
does not extend a sitting bout by two hours, nor bring the nudges that would follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from monitor.posture import PelvisSamples, PostureConfig, PostureResult, classify

# A bout may run on across at most this much time without data. Resetting costs something too:
# a fresh classifier needs a transition to tell sitting from standing again.
RESET_AFTER_S = 300.0


def classify_runs(
    samples: PelvisSamples,
    config: PostureConfig | None,
    breaks: Sequence[int] = (),
    *,
    heading_known: bool = True,
) -> PostureResult:
    """:func:`classify` each run between ``breaks`` (sample indices) on its own; joined."""
    bounds = [0, *sorted(b for b in breaks if 0 < b < len(samples)), len(samples)]
    runs = [(a, b) for a, b in pairwise(bounds) if b > a] or [(0, len(samples))]
    results = [classify(samples.slice(a, b), config, heading_known=heading_known) for a, b in runs]
    if len(results) == 1:
        return results[0]
    return PostureResult(
        snapshots=tuple(s for r in results for s in r.snapshots),
        transitions=tuple(x for r in results for x in r.transitions),
        bouts=tuple(x for r in results for x in r.bouts),
        frame_s=results[0].frame_s,
    )


def long_gap_breaks(run_starts: Sequence[int], gap_durations: Sequence[float]) -> list[int]:
    """The run starts that follow a gap longer than :data:`RESET_AFTER_S`."""
    return [
        start
        for start, gap in zip(run_starts[1:], gap_durations, strict=True)
        if gap > RESET_AFTER_S
    ]
