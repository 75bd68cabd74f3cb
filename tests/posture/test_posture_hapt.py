"""HAPT targets (label-free alignment; labels only score). Data are never copied into the repo.

Data path: $TILTMON_DATA, else ../shared/data next to the repository. Skipped when absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TILTMON_DATA", REPO.parent / "shared" / "data"))
HAPT = sorted((DATA / "hapt").glob("*.npz"))

_MISSING = f"HAPT data not found in {DATA / 'hapt'} (set TILTMON_DATA to the folder with hapt/)"
pytestmark = [pytest.mark.data, pytest.mark.skipif(not HAPT, reason=_MISSING)]


def test_hapt_targets() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_posture as bench

    runs = [e.run() for e in bench.load_hapt(DATA)]
    acc, f1 = bench.scores(*bench.pooled(runs))
    per = {r.name: round(bench.scores(r.truth, r.pred)[0], 4) for r in runs}
    assert acc >= 0.98, per
    assert f1 >= 0.96, per
