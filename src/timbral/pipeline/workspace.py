"""Where each stage of a run leaves its artifact, and the stamps that let a rerun skip it.

A stage is fresh when its stamp holds the same key (a hash of everything that determines its
output) and its outputs exist; a fresh stage is reused, anything else is recomputed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class Workspace:
    """The folder of one run (`timbral run --out DIR`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    corpus_dir = property(lambda self: self.root / "corpus")
    manifest = property(lambda self: self.root / "manifest.parquet")
    features_table = property(lambda self: self.root / "features.parquet")
    feature_cache = property(lambda self: self.root / "cache" / "features")
    split = property(lambda self: self.root / "split.parquet")
    balance_dir = property(lambda self: self.root / "balance")
    analysis_dir = property(lambda self: self.root / "analysis")
    unseen_dir = property(lambda self: self.root / "unseen")
    report = property(lambda self: self.root / "report.html")
    best_model = property(lambda self: self.root / "best_model.pt")

    def model_dir(self, name: str) -> Path:
        return self.root / "models" / name

    def eval_dir(self, name: str) -> Path:
        return self.root / "eval" / name

    def _stamp(self, stage: str) -> Path:
        return self.root / ".stages" / f"{stage}.json"

    def fresh(self, stage: str, key: str, *outputs: Path) -> dict | None:
        """The stamp's record if the stage can be reused, else None."""
        path = self._stamp(stage)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if record.get("key") != key or not all(Path(p).exists() for p in outputs):
            return None
        return record

    def mark(self, stage: str, key: str, **info) -> None:
        path = self._stamp(stage)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, **info}, indent=1, default=str))
        os.replace(tmp, path)
