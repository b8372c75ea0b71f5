"""Class balancing of the training split: spectrogram warps, re-extraction, stem remixing.

The reference algorithm: for each class, add (largest class count - class count) examples
labelled with that class alone, each either a re-extraction of a single-label training file
at another active offset, or a time-stretched / pitch-shifted copy of a single-label
training spectrogram. Stem remixing (sums of random subsets of a track's stems, labelled
with the classes active in the window) is done first and counts toward the class counts.

Only the rows passed as the training split are read; the manifest serves for its root (to
find activation annotations) and class list, never for its other rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from timbral.config import FeatureConfig, SegmentConfig, stable_hash
from timbral.data.balance_config import BalanceConfig
from timbral.data.balance_tasks import (
    VERSION,
    allocate,
    check_inputs,
    fallback_task,
    fill_tasks,
    remix_tasks,
    run_tasks,
)
from timbral.data.clips import ClipSet
from timbral.data.example_store import ExampleStore, file_identity, write_json_atomic
from timbral.data.manifest import Manifest
from timbral.data.warps import (
    augment_spectrogram,
    fit_shape,
    pitch_shift,
    spectrogram_floor,
    time_stretch,
)
from timbral.errors import DatasetError

__all__ = [
    "BalanceConfig", "BalanceResult", "augment_spectrogram", "balance_training_set",
    "fit_shape", "pitch_shift", "spectrogram_floor", "time_stretch",
]

log = logging.getLogger(__name__)

METHODS = ("reextract", "augment", "remix")


@dataclass
class BalanceResult:
    """New training examples and the class counts before and after adding them."""

    extra: ClipSet
    table: pd.DataFrame  # item_id, source_item_ids, method, details, classes
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    target: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # class -> why it was not filled

    def counts_frame(self) -> pd.DataFrame:
        """Per class: count before, after and added."""
        frame = pd.DataFrame({
            "class": list(self.counts_before),
            "before": list(self.counts_before.values()),
            "after": [self.counts_after[c] for c in self.counts_before],
        })
        frame["added"] = frame["after"] - frame["before"]
        return frame


def _counts(y: np.ndarray, classes: list[str]) -> dict[str, int]:
    sums = np.asarray(y).sum(axis=0) if len(y) else np.zeros(len(classes))
    return {c: int(round(float(s))) for c, s in zip(classes, sums)}


def balance_training_set(
    train_rows: pd.DataFrame,
    train: ClipSet,
    manifest: Manifest,
    out_dir: str | Path,
    feature_cfg: FeatureConfig = FeatureConfig(),
    segment_cfg: SegmentConfig = SegmentConfig(),
    cfg: BalanceConfig = BalanceConfig(),
    n_jobs: int = -1,
    progress: bool = True,
) -> BalanceResult:
    """Balance the training split; `train.concat(result.extra)` is the balanced set.

    `train_rows` are the manifest rows of the training items, in `train`'s order (columns
    item_id, track_id, kind, path, stem_id; `start` of the cached window if known). Results
    are cached in `out_dir`: a rerun with the same inputs and settings reads them back.
    """
    rows = train_rows.reset_index(drop=True)
    check_inputs(rows, train, manifest)
    classes = list(train.classes)
    before = _counts(train.y, classes)
    empty = ClipSet([], np.zeros((0, len(classes))), classes, [])
    if not cfg.enabled:
        return BalanceResult(empty, _table([]), before, dict(before), max(before.values(), default=0))

    out_dir = Path(out_dir)
    run_key = stable_hash(
        "balance", VERSION, cfg, feature_cfg, segment_cfg, classes, str(manifest.root),
        rows["item_id"].tolist(), [file_identity(p) for p in rows["path"]],
        [file_identity(p) for p in train.paths], train.y.astype(int).tolist(),
        rows["start"].astype(float).round(4).tolist() if "start" in rows else None,
    )
    summary = out_dir / f"balance-{run_key}.json"
    cached = _read_summary(summary, out_dir, classes)
    if cached is not None:
        log.info("balance: reusing %s", summary)
        return cached

    store = ExampleStore(out_dir / "clips")
    done: list[tuple[dict, dict]] = []

    remix = remix_tasks(rows, train, str(manifest.root), cfg, feature_cfg, segment_cfg)
    for task, record in zip(remix, run_tasks(remix, store, feature_cfg, n_jobs, progress,
                                              "stem remixes")):
        if record.get("ok"):
            done.append((task, record))
        else:
            log.info("balance: remix of %s dropped (%s)", task["plan"]["track_id"], record["details"])
    y_mid = np.array(train.y.sum(axis=0))
    for _, record in done:
        for c in record["classes"]:
            y_mid[classes.index(c)] += 1

    target = int(y_mid.max(initial=0)) if cfg.target == "max" else int(cfg.target)
    single = train.y.sum(axis=1) == 1
    skipped, deficits = {}, {}
    for ci, c in enumerate(classes):
        need = target - int(y_mid[ci])
        if need <= 0:
            continue
        if not np.any(single & (train.y[:, ci] == 1)):
            skipped[c] = f"no single-label training example ({need} missing)"
            continue
        deficits[c] = need
    if skipped:
        log.warning("balance: %d class(es) left below the target %d, having no single-label "
                    "training example: %s", len(skipped), target, ", ".join(skipped))
    budget = None if cfg.max_new is None else max(0, cfg.max_new - len(done))
    fill = fill_tasks(rows, train, cfg, feature_cfg, allocate(deficits, budget))
    records = run_tasks(fill, store, feature_cfg, n_jobs, progress, "balancing")
    failed = [i for i, r in enumerate(records) if not r.get("ok")]
    if failed:
        fix = [fallback_task(fill[i], cfg, records[i]["details"]) for i in failed]
        redo = run_tasks(fix, store, feature_cfg, n_jobs, progress, "fallbacks")
        reasons = sorted({t["fallback"] for t in fix})
        log.warning("balance: %d re-extraction(s) failed, augmenting instead: %s%s",
                    len(fix), "; ".join(reasons[:3]), " ..." if len(reasons) > 3 else "")
        for i, task, record in zip(failed, fix, redo):
            fill[i] = task
            records[i] = ({**record, "details": f"{record['details']} ({task['fallback']})"}
                          if record.get("ok") else record)
    for task, record in zip(fill, records):
        if not record.get("ok"):
            raise DatasetError(f"{task['feature_path']}: cannot augment ({record['details']})")
        done.append((task, {**record, "classes": [task["class"]]}))

    entries = [
        {"item_id": f"{t['name']}-{t['key'][:10]}", "path": f"clips/{t['key']}.npy",
         "classes": list(r["classes"]), "source_item_ids": list(t["sources"]),
         "method": t["method"], "details": r["details"]}
        for t, r in done
    ]
    result = _result(entries, out_dir, classes, before, target, skipped)
    write_json_atomic(summary, {"entries": entries, "target": target, "skipped": skipped,
                                "before": before})
    return result


def _table(entries: list[dict]) -> pd.DataFrame:
    cols = ["item_id", "source_item_ids", "method", "details", "classes"]
    return pd.DataFrame([{c: e[c] for c in cols} for e in entries], columns=cols)


def _result(entries: list[dict], out_dir: Path, classes: list[str], before: dict[str, int],
            target: int, skipped: dict[str, str]) -> BalanceResult:
    y = np.zeros((len(entries), len(classes)), dtype=np.float32)
    for r, e in enumerate(entries):
        for c in e["classes"]:
            y[r, classes.index(c)] = 1.0
    extra = ClipSet([str(out_dir / e["path"]) for e in entries], y, classes,
                    [e["item_id"] for e in entries])
    after = {c: before[c] + int(y[:, i].sum()) for i, c in enumerate(classes)}
    return BalanceResult(extra, _table(entries), dict(before), after, target, dict(skipped))


def _read_summary(path: Path, out_dir: Path, classes: list[str]) -> BalanceResult | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entries = data.get("entries", [])
    if not all((out_dir / e["path"]).is_file() for e in entries):
        return None
    return _result(entries, out_dir, classes, data["before"], data["target"], data["skipped"])
