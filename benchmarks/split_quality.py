"""Artist-grouped split quality: how far each class's share of files lands from 60/24/16.

Three ways to deal artists to train/val/test, run here in one process on the metadata-only
manifest of all 330 real MedleyDB tracks (mix + stem + raw), seeds 0-4:
- `iterstrat`: `iterstrat`'s iterative stratification over artists, each artist a 0/1 row
  (has the class or not), so a 450-file artist weighs as much as a 3-file one;
- `weighted`: iterative stratification over artists weighted by their per-class file counts;
- `timbral`: `split_manifest(group="artist")` (weighted, then a local search over moves and
  swaps of whole artists, best of several restarts).
The gap is |share - target| in points, over classes carried by at least 15 artists.

    .venv/bin/python benchmarks/split_quality.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from iterstrat.ml_stratifiers import IterativeStratification

from timbral import resources
from timbral.data import splits
from timbral.data.manifest import build_manifest

SEEDS = range(5)
ENOUGH = 15


def gaps(y: np.ndarray, side: np.ndarray, r: np.ndarray, keep: np.ndarray) -> np.ndarray:
    share = np.stack([y[side == s].sum(axis=0) for s in range(3)]) / y.sum(axis=0)
    return (np.abs(share - r[:, None]).max(axis=0) * 100)[keep]


def main() -> None:
    m = build_manifest(resources.metadata_dir(), metadata_only=True)
    y, r = m.y, np.asarray(splits.FRACTIONS)
    codes, artists = pd.factorize(m.rows["artist"])
    counts = np.zeros((len(artists), y.shape[1]))
    np.add.at(counts, codes, y)
    sizes = np.bincount(codes).astype(float)
    keep = (counts > 0).sum(axis=0) >= ENOUGH
    print(f"{len(m)} files, {len(artists)} artists; classes with >= {ENOUGH} artists: "
          f"{', '.join(c for c, k in zip(m.classes, keep) if k)}")

    methods = {
        "iterstrat": lambda s: IterativeStratification(counts > 0, r, np.random.RandomState(s))[codes],
        "weighted": lambda s: splits._iterative_groups(counts, sizes, r, np.random.default_rng(s))[codes],
        "timbral": lambda s: pd.Series(splits.split_manifest(m, seed=s)).map(
            {name: i for i, name in enumerate(splits.SPLITS)}).to_numpy(),
    }
    worst = {}
    print(f"{'method':<10} {'seed':>4} {'max gap':>8} {'mean gap':>9} {'seconds':>8}")
    for name, run in methods.items():
        for seed in SEEDS:
            t0 = time.perf_counter()
            side = run(seed)
            dt = time.perf_counter() - t0
            g = gaps(y, side, r, keep)
            worst[name] = max(worst.get(name, 0.0), g.max())
            print(f"{name:<10} {seed:>4} {g.max():>8.1f} {g.mean():>9.2f} {dt:>8.2f}")
    print("worst gap over seeds (points): "
          + ", ".join(f"{k} {v:.1f}" for k, v in worst.items()))
    print(f"split_max_gap_points_ratio_iterstrat_over_timbral: {worst['iterstrat'] / worst['timbral']:.1f}")


if __name__ == "__main__":
    main()
