"""Balancing work units: planning them (seeded, in the parent) and running them (joblib).

A task is a plain dict naming its method ("remix", "reextract", "augment"), its sources and
a cache key that hashes everything its output depends on. Running a task is a pure function
of the dict; its output is stored in an ExampleStore under the key, so reruns reuse it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

import numpy as np
import pandas as pd

from timbral.config import FeatureConfig, SegmentConfig, stable_hash
from timbral.data.balance_config import AUGMENT_FIELDS, BalanceConfig
from timbral.data.clips import ClipSet, load_feature
from timbral.data.example_store import ExampleStore, file_identity
from timbral.data.manifest import Manifest
from timbral.data.medleydb import activation_file
from timbral.data.reextract import candidate_starts, load_source, window_at
from timbral.data.remix import ActivityRule, RemixPlan, plan_track_remixes, render_remix
from timbral.data.warps import augment_spectrogram
from timbral.errors import DatasetError, TimbralError

log = logging.getLogger(__name__)

ROW_COLUMNS = ("item_id", "track_id", "kind", "path", "stem_id")

VERSION = 1  # bump when the content of generated examples changes


def _failed(exc: Exception) -> dict:
    return {"ok": False, "details": f"failed: {exc}", "error": True}


def _augment(task: dict, store: ExampleStore) -> dict:
    try:
        source = load_feature(task["feature_path"])
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{task['feature_path']}: unreadable feature file ({exc})") from None
    S, what = augment_spectrogram(source, np.random.default_rng(task["seed"]),
                                  BalanceConfig(**task["aug"]))
    return store.write(task["key"], S, {"details": what})


def _remix(task: dict, store: ExampleStore, feature_cfg: FeatureConfig) -> dict:
    plan = RemixPlan(**task["plan"])
    out = render_remix(plan, feature_cfg, ActivityRule(**task["rule"]), task["tries"],
                       task["min_active"])
    if out is None:
        return store.write(task["key"], None, {"details": "no stem active in any window"})
    on = [s for s, a in zip(plan.stem_ids, out.active) if a]
    details = (f"start={out.start:.2f}s stems={','.join(plan.stem_ids)} "
               f"gains_db={','.join(f'{g:.2f}' for g in plan.gains_db)} active={','.join(on)}")
    return store.write(task["key"], out.spectrogram,
                       {"details": details, "classes": list(out.classes)})


def _reextract(group: list[dict], store: ExampleStore, feature_cfg: FeatureConfig) -> list[dict]:
    """Re-extractions from one file: it is decoded once for all of them."""
    first = group[0]
    y = load_source(first["path"], feature_cfg)
    starts = candidate_starts(y, feature_cfg, first["active_db"], first["active_share"],
                              first["avoid"])
    out = []
    for task in group:
        S, start = window_at(y, starts, task["seed"], feature_cfg)
        out.append(store.write(task["key"], S, {"details": f"start={start:.2f}s"}))
    return out


def _run_group(group: list[dict], store_root: str, feature_cfg: FeatureConfig) -> list[dict]:
    """Records of a group of tasks (one remix or augmentation, or re-extractions of a file).

    A TimbralError (e.g. an unreadable file) fails the group's records instead of the run.
    """
    store = ExampleStore(store_root)
    try:
        method = group[0]["method"]
        if method == "reextract":
            return _reextract(group, store, feature_cfg)
        if method == "remix":
            return [_remix(group[0], store, feature_cfg)]
        return [_augment(group[0], store)]
    except TimbralError as exc:
        return [_failed(exc)] * len(group)


def _groups(tasks: list[dict], todo: list[int]) -> list[list[int]]:
    """Task indices grouped so re-extractions of one file (same window to avoid) share a job."""
    groups: dict[tuple, list[int]] = {}
    for i in todo:
        t = tasks[i]
        key = ("reextract", t["path"], t["avoid"]) if t["method"] == "reextract" else (i,)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def run_tasks(tasks: list[dict], store: ExampleStore, feature_cfg: FeatureConfig, n_jobs: int,
              progress: bool, desc: str) -> list[dict]:
    """Records for `tasks` in order: cached ones are read, the rest computed in parallel."""
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    records: list[dict | None] = [store.read(t["key"]) for t in tasks]
    groups = _groups(tasks, [i for i, r in enumerate(records) if r is None])
    if groups:
        run = Parallel(n_jobs=1 if len(groups) == 1 else n_jobs, return_as="generator")(
            delayed(_run_group)([tasks[i] for i in g], str(store.root), feature_cfg)
            for g in groups
        )
        total = sum(len(g) for g in groups)
        with tqdm(total=total, desc=desc, disable=not progress) as bar:
            for group, out in zip(groups, run):
                for i, record in zip(group, out):
                    records[i] = record
                bar.update(len(group))
    return records  # type: ignore[return-value]


# --- planning ---------------------------------------------------------------------------

def _rng(seed: int, phase: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, phase, int(stable_hash(name, length=8), 16)])


def check_inputs(rows: pd.DataFrame, train: ClipSet, manifest: Manifest) -> None:
    missing = [c for c in ROW_COLUMNS if c not in rows.columns]
    if missing:
        raise DatasetError(f"training rows: missing column(s) {', '.join(missing)}")
    if len(rows) != len(train):
        raise DatasetError(f"training rows and clips disagree: {len(rows)} rows, {len(train)} clips")
    if list(rows["item_id"]) != list(train.item_ids):
        first = next(a for a, b in zip(rows["item_id"], train.item_ids) if a != b)
        raise DatasetError(f"training rows and clips disagree: item {first} is not in the same place")
    if list(train.classes) != list(manifest.classes):
        raise DatasetError("training clips and manifest have different class lists")


def remix_tasks(rows: pd.DataFrame, train: ClipSet, root: str, cfg: BalanceConfig,
                feature_cfg: FeatureConfig, segment_cfg: SegmentConfig) -> list[dict]:
    if cfg.remix_per_track == 0:
        return []
    rule = ActivityRule(cfg.active_db, cfg.active_share, segment_cfg.activity_threshold)
    stems = rows.assign(row_index=np.arange(len(rows)))[rows["kind"] == "stem"]
    tasks = []
    for track_id, group in sorted(stems.groupby("track_id", sort=False), key=lambda g: g[0]):
        group = group.sort_values(["stem_id", "item_id"])
        entries = [
            (r.item_id, r.stem_id, r.path,
             tuple(c for c, on in zip(train.classes, train.y[r.row_index]) if on))
            for r in group.itertuples()
        ]
        act = activation_file(root, track_id) if root else None
        plans = plan_track_remixes(track_id, entries, cfg.remix_per_track, cfg.remix_min_stems,
                                   cfg.remix_gain_db, _rng(cfg.seed, 1, track_id),
                                   str(act) if act else None)
        for plan in plans:
            key = stable_hash(
                "remix", VERSION, [file_identity(p) for p in plan.paths], plan.gains_db,
                plan.seed, plan.stem_ids, plan.classes,
                file_identity(plan.activation) if plan.activation else None,
                rule, cfg.remix_tries, cfg.remix_min_stems, feature_cfg, length=24,
            )
            tasks.append({"method": "remix", "key": key, "plan": asdict(plan),
                          "rule": asdict(rule), "tries": cfg.remix_tries,
                          "min_active": cfg.remix_min_stems, "sources": list(plan.item_ids),
                          "name": f"{track_id}#remix"})
    if cfg.max_new is not None and len(tasks) > cfg.max_new // 2:
        keep = np.sort(_rng(cfg.seed, 3, "remix-cap").permutation(len(tasks))[: cfg.max_new // 2])
        tasks = [tasks[i] for i in keep]
    return tasks


def allocate(deficits: dict[str, int], budget: int | None) -> dict[str, int]:
    """Scale deficits down to `budget` (largest remainders, ties in class order)."""
    total = sum(deficits.values())
    if budget is None or total <= budget:
        return dict(deficits)
    exact = {c: d * budget / total for c, d in deficits.items()}
    out = {c: int(np.floor(v)) for c, v in exact.items()}
    order = sorted(deficits, key=lambda c: -(exact[c] - out[c]))
    for c in order[: budget - sum(out.values())]:
        out[c] += 1
    return out


def fill_tasks(rows: pd.DataFrame, train: ClipSet, cfg: BalanceConfig,
              feature_cfg: FeatureConfig, wanted: dict[str, int]) -> list[dict]:
    aug = {k: getattr(cfg, k) for k in AUGMENT_FIELDS}
    single = train.y.sum(axis=1) == 1
    starts = rows["start"].to_numpy(dtype=float) if "start" in rows else np.full(len(rows), np.nan)
    paths = rows["path"].astype(str).tolist()
    tasks = []
    for ci, cls in enumerate(train.classes):
        sources = np.flatnonzero(single & (train.y[:, ci] == 1))
        rng = _rng(cfg.seed, 2, cls)
        for _ in range(wanted.get(cls, 0)):
            i = int(sources[rng.integers(len(sources))])
            seed = int(rng.integers(2**31))
            item = train.item_ids[i]
            if rng.random() < cfg.reextract_prob and paths[i]:
                avoid = None if np.isnan(starts[i]) else float(starts[i])
                key = stable_hash("reextract", VERSION, file_identity(paths[i]), seed, avoid,
                                  cfg.active_db, cfg.active_share, feature_cfg, length=24)
                task = {"method": "reextract", "path": paths[i], "avoid": avoid,
                        "active_db": cfg.active_db, "active_share": cfg.active_share}
            else:
                key = stable_hash("augment", VERSION, file_identity(train.paths[i]), seed, aug,
                                  length=24)
                task = {"method": "augment", "aug": aug}
            task.update({"key": key, "seed": seed, "class": cls, "index": i,
                         "feature_path": train.paths[i], "sources": [item],
                         "name": f"{item}#{task['method']}"})
            tasks.append(task)
    return tasks


def fallback_task(task: dict, cfg: BalanceConfig, reason: str) -> dict:
    """An augmentation of the same training item, for a re-extraction that failed."""
    aug = {k: getattr(cfg, k) for k in AUGMENT_FIELDS}
    key = stable_hash("augment", VERSION, file_identity(task["feature_path"]), task["seed"],
                      aug, length=24)
    return {**task, "method": "augment", "aug": aug, "key": key,
            "name": task["name"].replace("#reextract", "#augment"), "fallback": reason}
