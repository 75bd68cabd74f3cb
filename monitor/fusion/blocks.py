"""An offline estimator over a long recording a block at a time, with memory that stays flat.

The offline estimators look both ways (VQF's forward-backward pass), so a block cannot simply
carry a state forward. Each block is estimated with :data:`OVERLAP_S` of the recording either
side of it as context, and only the block itself is kept: with tilt settling within VQF's
accelerometer time constant (3 s) and the gyroscope bias within about a minute, two minutes of
context give the same inclination as one pass over the whole recording (tests/test_analyze.py
measures it). Memory then follows the block, not the recording; the context costs
``2 * OVERLAP_S / BLOCK_S`` more filter time (20 % at the defaults).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.fusion.api import make_estimator
from monitor.fusion.base import FloatArray

BLOCK_S = 1200.0  # twenty minutes of samples a block
OVERLAP_S = 120.0  # context either side of a block


@dataclass(frozen=True, slots=True)
class Block:
    """Samples ``[lo, hi)`` to keep, estimated over ``[context_lo, context_hi)``."""

    lo: int
    hi: int
    context_lo: int
    context_hi: int

    def inner(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The block's own rows of something computed over the context."""
        return x[self.lo - self.context_lo : self.hi - self.context_lo]


def blocks(
    n: int, rate_hz: float, block_s: float | None = BLOCK_S, overlap_s: float = OVERLAP_S
) -> list[Block]:
    """The blocks of ``n`` samples in order; one block, no context, when ``block_s`` is None."""
    if block_s is None or n == 0:
        return [Block(0, n, 0, n)]
    size = max(round(block_s * rate_hz), 1)
    overlap = max(round(overlap_s * rate_hz), 0)
    out = []
    for lo in range(0, n, size):
        hi = min(lo + size, n)
        out.append(Block(lo, hi, max(lo - overlap, 0), min(hi + overlap, n)))
    return out


def context64(x: npt.NDArray[Any], block: Block) -> FloatArray:
    """A block's context of ``x`` as the contiguous float64 the filters take."""
    return np.ascontiguousarray(x[block.context_lo : block.context_hi], dtype=np.float64)


def estimate_blocks(
    acc: npt.ArrayLike,
    gyr: npt.ArrayLike | None,
    rate_hz: float,
    estimator: str,
    *,
    block_s: float | None = BLOCK_S,
    overlap_s: float = OVERLAP_S,
) -> Iterator[tuple[Block, FloatArray]]:
    """``(block, q_ES)`` for each block in order: the orientation of its samples ``[lo, hi)``.

    ``acc`` and ``gyr`` may be float32 (a long recording kept compact); each block's context is
    made float64 for the filter. With ``block_s`` None, one pass over everything.
    """
    a_all = np.asarray(acc)
    g_all = None if gyr is None else np.asarray(gyr)
    for block in blocks(len(a_all), rate_hz, block_s, overlap_s):
        a = context64(a_all, block)
        g = None if g_all is None else context64(g_all, block)
        yield block, block.inner(make_estimator(estimator, rate_hz).update_batch(a, g))


__all__ = ["BLOCK_S", "OVERLAP_S", "Block", "blocks", "context64", "estimate_blocks"]
