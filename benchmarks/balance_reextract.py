"""Re-extraction throughput: one decode per example (as the reference did) vs one per file.

Balancing re-extracts several windows from the same few single-label files, so timbral
decodes each file once per batch of windows. Both paths run here, in one process, on the
same generated 60 s stereo 44.1 kHz stems with the reference feature settings.

    .venv/bin/python benchmarks/balance_reextract.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from timbral.config import FeatureConfig
from timbral.data.balance_tasks import run_tasks
from timbral.data.example_store import ExampleStore
from timbral.data.reextract import reextract_clip

N_FILES, PER_FILE, SECONDS, NATIVE_SR = 4, 4, 60.0, 44100


def main() -> None:
    cfg = FeatureConfig()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        t = np.arange(int(SECONDS * NATIVE_SR)) / NATIVE_SR
        paths = []
        for i in range(N_FILES):
            y = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) * (np.sin(2 * np.pi * 0.1 * t) > -0.3)
            stereo = np.stack([y, y + 0.01 * rng.standard_normal(len(t))], axis=1)
            paths.append(tmp / f"stem{i}.wav")
            sf.write(paths[-1], stereo, NATIVE_SR)
        tasks = [
            {"method": "reextract", "path": str(p), "avoid": 0.0, "seed": 100 * i + j,
             "active_db": -30.0, "active_share": 0.25, "key": f"k{i}_{j}"}
            for i, p in enumerate(paths) for j in range(PER_FILE)
        ]
        n = len(tasks)

        t0 = time.perf_counter()
        for task in tasks:
            reextract_clip(task["path"], task["seed"], cfg, task["active_db"],
                           task["active_share"], task["avoid"])
        per_example = n / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        run_tasks(tasks, ExampleStore(tmp / "store"), cfg, n_jobs=1, progress=False, desc="")
        grouped = n / (time.perf_counter() - t0)

    print(f"{n} re-extractions from {N_FILES} files of {SECONDS:.0f} s, one process")
    print(f"decode per example (reference): {per_example:6.2f} examples/s")
    print(f"decode per file (timbral):      {grouped:6.2f} examples/s")
    print(f"reextract_speedup: {grouped / per_example:.2f}")


if __name__ == "__main__":
    main()
