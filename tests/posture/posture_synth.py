"""Hand-made pelvis-frame samples for the posture tests (no fusion, no simulator)."""

from __future__ import annotations

import numpy as np

from monitor.posture import G, PelvisSamples, up_from_tilt
from monitor.posture.features import concat_samples


def still(
    duration_s: float,
    sagittal_deg: float = 0.0,
    frontal_deg: float = 0.0,
    *,
    t0: float = 0.0,
    rate_hz: float = 25.0,
) -> PelvisSamples:
    """A motionless pelvis held at the given tilt."""
    n = round(duration_s * rate_hz)
    t = t0 + np.arange(n) / rate_hz
    sag = np.full(n, float(sagittal_deg))
    fro = np.full(n, float(frontal_deg))
    acc = G * up_from_tilt(sag, fro)
    return PelvisSamples(t, acc, np.zeros((n, 3)), sag, fro)


def concat(*parts: PelvisSamples) -> PelvisSamples:
    return concat_samples(parts)


def sequence(*segments: tuple[float, float, float], rate_hz: float = 25.0) -> PelvisSamples:
    """Still segments ``(duration_s, sagittal_deg, frontal_deg)`` back to back."""
    parts, t0 = [], 0.0
    for dur, sag, fro in segments:
        parts.append(still(dur, sag, fro, t0=t0, rate_hz=rate_hz))
        t0 += dur
    return concat(*parts)


def move(
    duration_s: float,
    sag_from: float,
    sag_to: float,
    dh_m: float,
    *,
    t0: float,
    peak_deg: float = 15.0,
    rate_hz: float = 25.0,
) -> PelvisSamples:
    """A sit-down/stand-up: the pelvis pitches forward by ``peak_deg`` and moves ``dh_m``.

    Angles and height follow smooth curves whose derivatives give the gyro and the vertical
    acceleration (the horizontal acceleration is left out: the classifier does not use it).
    """
    n = round(duration_s * rate_hz)
    t = t0 + np.arange(n) / rate_hz
    x = (t - t0) / duration_s
    step = x**3 * (10 - 15 * x + 6 * x**2)  # quintic smoothstep
    dstep = 30 * x**2 * (1 - x) ** 2 / duration_s
    ddstep = 60 * x * (1 - x) * (1 - 2 * x) / duration_s**2
    bump = np.sin(np.pi * x) ** 2
    dbump = np.pi / duration_s * np.sin(2 * np.pi * x)
    sag = sag_from + (sag_to - sag_from) * step + peak_deg * bump
    sag_rate = np.radians((sag_to - sag_from) * dstep + peak_deg * dbump)
    fro = np.zeros(n)
    up = up_from_tilt(sag, fro)
    acc = (G + dh_m * ddstep)[:, None] * up
    gyr = np.zeros((n, 3))
    gyr[:, 1] = sag_rate  # about the left axis; positive = anterior
    return PelvisSamples(t, acc, gyr, sag, fro)


def day(*steps: tuple[str, float, float], rate_hz: float = 25.0) -> PelvisSamples:
    """``("stand"|"sit", duration_s, sagittal_deg)`` with sit-downs / stand-ups in between."""
    parts: list[PelvisSamples] = []
    t0 = 0.0
    prev: tuple[str, float] | None = None
    for kind, dur, sag in steps:
        if prev is not None and prev[0] != kind:
            dh = -0.42 if kind == "sit" else 0.42
            parts.append(move(2.5, prev[1], sag, dh, t0=t0, rate_hz=rate_hz))
            t0 += 2.5
        parts.append(still(dur, sag, t0=t0, rate_hz=rate_hz))
        t0 += dur
        prev = (kind, sag)
    return concat(*parts)
