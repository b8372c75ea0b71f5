"""Does the improved CNN earn its place? Trains the reference CNN, the improved CNN, two
ablations of it and the descriptor baseline on the same split with the same settings, and
prints validation macro AUC, loss and wall time for each.

    .venv/bin/python benchmarks/improved_model.py                  # synthetic instruments
    .venv/bin/python benchmarks/improved_model.py --workdir runs/demo --segment-seconds 5

Without --workdir the data are synthetic: eight additive-synthesis "instruments" (harmonic
profile, envelope, vibrato, register and noise differ; one is a drum kit) playing random
notes, mixed 1-4 at a time at random gains, 5 s clips through the project's log-mel. With
--workdir it uses the train/val split of a `timbral run` folder (unbalanced train split).
Every model trains for the same number of epochs (no early stop; the best epoch by validation
loss is kept). Last line: `auc_improved_minus_reference: <difference>`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from timbral.config import FeatureConfig
from timbral.data.clips import ClipSet
from timbral.data.features import logmel
from timbral.training import TrainConfig, train_baseline, train_model

SR = 22050
INSTRUMENTS = ["flute", "clarinet", "violin", "trumpet", "piano", "guitar", "bass", "drums"]
# (lowest, highest) fundamental in Hz
REGISTER = {"flute": (250, 1000), "clarinet": (150, 700), "violin": (200, 1300),
            "trumpet": (160, 900), "piano": (60, 2000), "guitar": (80, 1000), "bass": (40, 200)}


def harmonic_amplitudes(name: str, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if name == "flute":
        return 1.0 / n**3
    if name == "clarinet":
        return np.where(n % 2 == 1, 1.0 / n, 0.05 / n)
    if name == "violin":
        return (1.0 / n) * (1 + 0.8 * np.exp(-((n * 1.0 - 5) ** 2) / 4))
    if name == "trumpet":
        return np.exp(-((n - 4.0) ** 2) / 8) + 0.3 / n
    if name == "piano":
        return 1.0 / n**1.5
    if name == "guitar":
        return 1.0 / n * (1 + 0.5 * np.sin(n * rng.uniform(0.5, 1.5)))
    return 1.0 / n**2  # bass


def note(name: str, f0: float, dur: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    n = np.arange(1, 25, dtype=float)
    stretch = 1 + (0.0004 * n**2 if name == "piano" else 0.0)
    freqs = f0 * n * stretch
    amps = harmonic_amplitudes(name, n, rng) * (freqs < SR / 2 - 500)
    vib = {"flute": (5.0, 0.006), "violin": (6.0, 0.01)}.get(name, (0.0, 0.0))
    phase = 2 * np.pi * np.outer(freqs, t + vib[1] / max(vib[0], 1e-9) * np.sin(2 * np.pi * vib[0] * t))
    if name in ("guitar", "piano"):  # higher partials fade faster
        decay = np.exp(-np.outer(1.5 + 0.6 * n, t))
    else:
        decay = np.ones((len(n), len(t)))
    y = (amps[:, None] * decay * np.sin(phase + rng.uniform(0, 2 * np.pi, (len(n), 1)))).sum(0)
    attack = {"flute": 0.08, "violin": 0.1, "clarinet": 0.04, "trumpet": 0.03}.get(name, 0.005)
    env = np.minimum(1.0, t / attack) * np.minimum(1.0, (dur - t) / 0.03).clip(0)
    if name == "flute":
        y += 0.02 * rng.standard_normal(len(t))
    return y * env


def drums(seconds: float, rng: np.random.Generator) -> np.ndarray:
    y = np.zeros(int(seconds * SR))
    beat = 60.0 / rng.uniform(80, 160)
    for i, start in enumerate(np.arange(0, seconds - 0.3, beat / 2)):
        s = int(start * SR)
        t = np.arange(int(0.25 * SR)) / SR
        if i % 4 == 0:  # kick: falling sine
            hit = np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
        elif i % 4 == 2:  # snare: noise + tone
            hit = (rng.standard_normal(len(t)) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 20)
        else:  # hi-hat: differenced noise
            hit = np.diff(rng.standard_normal(len(t) + 1)) * 0.3 * np.exp(-t * 60)
        y[s:s + len(t)] += hit[: len(y) - s]
    return y


def part(name: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    if name == "drums":
        return drums(seconds, rng)
    y = np.zeros(int(seconds * SR))
    lo, hi = REGISTER[name]
    pos = rng.uniform(0, 0.5)
    while pos < seconds - 0.15:
        dur = min(rng.uniform(0.15, 1.0), seconds - pos)
        f0 = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        s = int(pos * SR)
        seg = note(name, f0, dur, rng)
        y[s:s + len(seg)] += seg[: len(y) - s]
        pos += dur + (rng.uniform(0, 0.4) if rng.random() < 0.3 else 0.0)
    return y


def synthetic_clips(root: Path, n: int, seconds: float, cfg: FeatureConfig, seed: int) -> ClipSet:
    """n mixtures of 1-4 instruments as log-mel files under root (reused if already there)."""
    paths = [str(root / f"s{seed}_{i}.npy") for i in range(n)]
    labels_path = root / f"labels_s{seed}_n{n}_{cfg.n_frames}.npy"
    if labels_path.exists() and all(Path(p).exists() for p in paths):
        return ClipSet(paths, np.load(labels_path), INSTRUMENTS)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    labels = np.zeros((n, len(INSTRUMENTS)), dtype=np.float32)
    for i in range(n):
        k = rng.integers(1, 5)
        chosen = rng.choice(len(INSTRUMENTS), size=k, replace=False)
        y = np.zeros(int(seconds * SR))
        for c in chosen:
            p = part(INSTRUMENTS[c], seconds, rng)
            y += p / (np.abs(p).max() + 1e-9) * 10 ** (rng.uniform(-12, 0) / 20)
            labels[i, c] = 1
        y += 10 ** (-50 / 20) * rng.standard_normal(len(y))
        np.save(paths[i], logmel(y / np.abs(y).max(), cfg).astype(np.float16))
    np.save(labels_path, labels)  # last: marks the set complete
    return ClipSet(paths, labels, INSTRUMENTS)


def workdir_clips(workdir: Path) -> tuple[ClipSet, ClipSet]:
    import pandas as pd

    from timbral.data.manifest import Manifest
    from timbral.pipeline import stages
    from timbral.pipeline.workspace import Workspace

    ws = Workspace(workdir)
    manifest = Manifest.load(ws.manifest)
    rows = stages.usable(manifest, pd.read_parquet(ws.features_table))
    rows = rows.merge(pd.read_parquet(ws.split)[["item_id", "split"]], on="item_id")
    pick = lambda s: stages.clipset(rows[rows["split"] == s].reset_index(drop=True), manifest.classes)  # noqa: E731
    return pick("train"), pick("val")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="a `timbral run` folder")
    parser.add_argument("--segment-seconds", type=float, default=5.0)
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-val", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--data-seed", type=int, default=0, help="synthetic data seed")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the synthetic clips here and reuse them on the next run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="reference_cnn,improved_cnn,improved_cnn:attention,"
                        "improved_cnn:band_norm,descriptor_logreg")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = FeatureConfig(segment_seconds=args.segment_seconds)
    with tempfile.TemporaryDirectory(prefix="timbral-bench-") as tmp:
        run(args, cfg, Path(tmp))


def run(args: argparse.Namespace, cfg: FeatureConfig, tmp: Path) -> None:
    data = args.data_dir or tmp
    t0 = time.perf_counter()
    if args.workdir:
        train, val = workdir_clips(args.workdir)
        source = f"split of {args.workdir}"
    else:
        train = synthetic_clips(data / "train", args.n_train, args.segment_seconds, cfg,
                                args.data_seed)
        val = synthetic_clips(data / "val", args.n_val, args.segment_seconds, cfg,
                              args.data_seed + 1000)
        source = f"synthetic instruments (data seed {args.data_seed})"
    print(f"data: {source}: {len(train)} train / {len(val)} val clips of "
          f"{cfg.n_mels}x{cfg.n_frames}, {len(train.classes)} classes "
          f"({time.perf_counter() - t0:.0f} s to prepare)")

    ablations = {"attention": {"attention": True}, "band_norm": {"band_norm": True}}
    tcfg = TrainConfig(max_epochs=args.epochs, patience=args.epochs, seed=args.seed,
                       accelerator="cpu", devices=1)
    print(f"{'model':<28} {'val AUC':>8} {'val loss':>9} {'best ep':>8} {'train s':>8} {'s/epoch':>8}")
    results = {}
    for spec in args.models.split(","):
        name, _, variant = spec.partition(":")
        out = tmp / "models" / spec.replace(":", "-")
        t0 = time.perf_counter()
        if name == "descriptor_logreg":
            res = train_baseline(train, val, out, cfg, seed=args.seed, progress=False)
        else:
            res = train_model(name, train, val, out, tcfg, cfg,
                              model_kwargs=ablations[variant] if variant else None, progress=False)
        secs = time.perf_counter() - t0
        vm = res.val_metrics
        results[spec] = vm["val_auc"]
        print(f"{spec:<28} {vm['val_auc']:>8.4f} {vm['val_loss']:>9.4f} {res.best_epoch:>8d} "
              f"{secs:>8.1f} {secs / res.epochs_run:>8.1f}", flush=True)
    if "improved_cnn" in results and "reference_cnn" in results:
        print(f"auc_improved_minus_reference: {results['improved_cnn'] - results['reference_cnn']:.4f}")


if __name__ == "__main__":
    main()
