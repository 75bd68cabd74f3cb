"""The one error type the fusion package raises on purpose."""

from __future__ import annotations

from monitor.errors import MonitorError


class FusionError(MonitorError, ValueError):
    """Input the orientation estimators cannot use: wrong shapes or types, a bad sample rate, an
    unknown estimator, or a request an estimator cannot serve (streaming a non-causal one)."""
