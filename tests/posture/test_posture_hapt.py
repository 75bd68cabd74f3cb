"""HAPT through the product path: each experiment as a CSV through the `tiltmon analyze` CLI.

Label-free: nothing is fitted per user, so every user is scored on code that never saw its
labels. The data are never copied into the repository. Data path: $TILTMON_DATA, else
../shared/data next to the repository; skipped when absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TILTMON_DATA", REPO.parent / "shared" / "data"))
HAPT = sorted((DATA / "hapt").glob("*.npz"))

_MISSING = f"HAPT data not found in {DATA / 'hapt'} (set TILTMON_DATA to the folder with hapt/)"
pytestmark = [pytest.mark.data, pytest.mark.slow, pytest.mark.skipif(not HAPT, reason=_MISSING)]


def test_hapt_through_analyze(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_hapt_analyze as bench

    truth: dict[int, list[np.ndarray]] = {}
    pred: dict[int, list[np.ndarray]] = {}
    for npz in HAPT:
        user = int(npz.stem.split("user")[1])
        csv_in, csv_out = tmp_path / f"{npz.stem}.csv", tmp_path / f"{npz.stem}.out.csv"
        t, label = bench.write_csv(npz, csv_in)
        bench.run_analyze(csv_in, csv_out)
        scored = np.isin(label, list(bench.LABELS))
        truth.setdefault(user, []).append(np.array([bench.LABELS[int(v)] for v in label[scored]]))
        pred.setdefault(user, []).append(bench.per_sample_posture(csv_out, t)[scored])
    per_user = {
        u: round(bench.scores(np.concatenate(truth[u]), np.concatenate(pred[u]))[0], 4)
        for u in truth
    }
    acc, f1 = bench.scores(
        np.concatenate([np.concatenate(v) for v in truth.values()]),
        np.concatenate([np.concatenate(v) for v in pred.values()]),
    )
    # Just under the figures measured (docs/posture.md); the product targets are 0.98 / 0.96 /
    # worst user 0.95 (benchmarks/bench_hapt_analyze.py prints them all).
    assert acc >= 0.985, per_user
    assert f1 >= 0.97, per_user
    assert min(per_user.values()) >= 0.975, per_user
