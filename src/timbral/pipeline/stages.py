"""The stages of a run, each a function of the config and the workspace.

Every stage prints one summary line and leaves its output in the workspace; `run_pipeline`
chains them. A stage whose inputs and settings are unchanged reuses its output.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from timbral.config import from_dict, stable_hash
from timbral.data.clips import ClipSet
from timbral.data.manifest import Manifest, build_manifest
from timbral.errors import DatasetError
from timbral.pipeline.config import PipelineConfig
from timbral.pipeline.workspace import Workspace

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


_last = [time.perf_counter()]


def say(stage: str, message: str) -> None:
    """One summary line per stage, with the seconds it took."""
    now = time.perf_counter()
    print(f"[{stage:>9}] {message} ({now - _last[0]:.0f} s)", flush=True)
    _last[0] = now


# --- corpus ---------------------------------------------------------------------------------

def stage_corpus(cfg: PipelineConfig, ws: Workspace) -> Path:
    """The MedleyDB root: `cfg.root`, or the embedded corpus rendered into the workspace."""
    if cfg.root is not None:
        root = Path(cfg.root)
        if not root.is_dir():
            raise DatasetError(f"{root}: --root is not a directory")
        say("corpus", f"using MedleyDB tree {root}")
        return root
    from timbral.corpus import render_corpus

    c = cfg.corpus
    key = stable_hash("corpus", c)
    if ws.fresh("corpus", key, ws.corpus_dir / "corpus.json"):
        say("corpus", f"reused {ws.corpus_dir} (preset {c['preset']})")
        return ws.corpus_dir
    render_corpus(
        ws.corpus_dir, preset=c["preset"], soundfonts=c.get("soundfonts"), seed=c.get("seed", 0),
        n_jobs=cfg.n_jobs,
    )
    n = len(list((ws.corpus_dir / "Audio").iterdir()))
    ws.mark("corpus", key, tracks=n)
    say("corpus", f"rendered {n} songs (preset {c['preset']}) into {ws.corpus_dir}")
    return ws.corpus_dir


# --- manifest -------------------------------------------------------------------------------

def manifest_key(manifest: Manifest) -> str:
    rows = manifest.rows
    return stable_hash(
        manifest.classes, rows["item_id"].tolist(), rows["path"].tolist(),
        rows["classes"].map(list).tolist(),
    )


def stage_manifest(cfg: PipelineConfig, ws: Workspace, root: Path) -> Manifest:
    manifest = build_manifest(
        root, cfg.kinds, cfg.taxonomy, tracklist=cfg.tracks, skip_unmapped=cfg.skip_unmapped
    )
    manifest.save(ws.manifest)
    kinds = manifest.rows["kind"].value_counts().to_dict()
    say(
        "manifest",
        f"{len(manifest)} items from {manifest.rows['track_id'].nunique()} songs "
        f"({', '.join(f'{v} {k}' for k, v in kinds.items())}), {len(manifest.classes)} classes",
    )
    return manifest


# --- features -------------------------------------------------------------------------------

def stage_features(cfg: PipelineConfig, ws: Workspace, manifest: Manifest) -> pd.DataFrame:
    from timbral.data.features import extract_features

    table = extract_features(
        manifest, ws.feature_cache, cfg.feature, cfg.segment, n_jobs=cfg.n_jobs, progress=True
    )
    tmp = ws.features_table.with_suffix(".tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(ws.features_table)
    counts = table["status"].value_counts().to_dict()
    say("features", ", ".join(f"{v} {k}" for k, v in counts.items()) + f" -> {ws.feature_cache}")
    return table


def usable(manifest: Manifest, table: pd.DataFrame) -> pd.DataFrame:
    """Manifest rows whose features exist, with the extraction columns joined on."""
    ok = table["status"].isin(["extracted", "cached"]).to_numpy()
    rows = manifest.rows.reset_index(drop=True)
    extra = table.drop(columns=["item_id"]).reset_index(drop=True)
    return pd.concat([rows, extra], axis=1)[ok].reset_index(drop=True)


# --- split ----------------------------------------------------------------------------------

def multi_hot(rows: pd.DataFrame, classes: list[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    y = np.zeros((len(rows), len(classes)), dtype=np.float32)
    for r, cls in enumerate(rows["classes"]):
        for c in cls:
            y[r, index[c]] = 1
    return y


def stage_split(cfg: PipelineConfig, ws: Workspace, rows: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    from timbral.data.splits import check_no_leak, split_manifest

    group = cfg.split.get("group", "artist")
    split = split_manifest(rows, multi_hot(rows, classes), seed=cfg.split.get("seed", 0), group=group)
    if group != "clip":
        check_no_leak(rows, split, group=group)
    rows = rows.assign(split=split)
    out = rows[["item_id", "track_id", "artist", "kind", "split"]]
    tmp = ws.split.with_suffix(".tmp")
    out.to_parquet(tmp, index=False)
    tmp.replace(ws.split)
    sizes = rows["split"].value_counts().reindex(list(SPLITS), fill_value=0)
    tracks = rows.groupby("split")["track_id"].nunique().reindex(list(SPLITS), fill_value=0)
    say(
        "split",
        f"grouped by {group}, seed {cfg.split.get('seed', 0)}: "
        + ", ".join(f"{s} {sizes[s]} items/{tracks[s]} songs" for s in SPLITS)
        + ("" if group != "clip" else " (clip-level: LEAKS songs across splits)"),
    )
    return rows


def clipset(rows: pd.DataFrame, classes: list[str]) -> ClipSet:
    return ClipSet(rows["feature_path"].tolist(), multi_hot(rows, classes), classes, rows["item_id"].tolist())


# --- balance --------------------------------------------------------------------------------

@dataclass
class Balanced:
    train: ClipSet
    counts_before: dict
    counts_after: dict
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def stage_balance(cfg: PipelineConfig, ws: Workspace, manifest: Manifest, train_rows: pd.DataFrame) -> Balanced:
    from timbral.data.augment import BalanceConfig, balance_training_set

    train = clipset(train_rows, manifest.classes)
    bcfg = BalanceConfig(**cfg.balance)
    if not bcfg.enabled:
        counts = dict(zip(manifest.classes, train.y.sum(0).astype(int).tolist()))
        say("balance", "disabled")
        return Balanced(train, counts, counts)
    result = balance_training_set(
        train_rows, train, manifest, ws.balance_dir, cfg.feature, cfg.segment, bcfg,
        n_jobs=cfg.n_jobs, progress=True,
    )
    methods = result.table["method"].value_counts().to_dict() if len(result.table) else {}
    say(
        "balance",
        f"{len(train)} training clips + {len(result.extra)} new "
        f"({', '.join(f'{v} {k}' for k, v in methods.items()) or 'none'})",
    )
    return Balanced(train.concat(result.extra), dict(result.counts_before), dict(result.counts_after), result.table)


# --- train ----------------------------------------------------------------------------------

def stage_train(cfg: PipelineConfig, ws: Workspace, model: str, train: ClipSet, val: ClipSet,
                taxonomy: dict, data_key: str) -> Path:
    from timbral.training import TrainConfig, train_baseline, train_model

    settings = cfg.train_settings(model)
    key = stable_hash("train", model, settings, cfg.feature, cfg.segment, data_key)
    out = ws.model_dir(model)
    if ws.fresh(f"train-{model}", key, out / "model.pt") and _loads(out / "model.pt"):
        say("train", f"{model}: reused {out / 'model.pt'}")
        return out / "model.pt"
    if model == "descriptor_logreg":
        result = train_baseline(train, val, out, cfg.feature, cfg.segment, taxonomy,
                                seed=settings.get("seed", 0))
    else:
        tcfg = from_dict(TrainConfig, settings, f"train ({model})")
        result = train_model(model, train, val, out, tcfg, cfg.feature, cfg.segment, taxonomy)
    ws.mark(f"train-{model}", key, epochs=result.epochs_run, best_epoch=result.best_epoch)
    vm = result.val_metrics
    say(
        "train",
        f"{model}: {result.epochs_run} epochs (best {result.best_epoch}), "
        f"val loss {vm.get('val_loss', float('nan')):.3f}, val AUC {vm.get('val_auc', float('nan')):.3f}"
        f" -> {result.artifact_path}",
    )
    return Path(result.artifact_path)


def _loads(path: Path) -> bool:
    """Whether a saved artifact still fits this version's model code (else it is retrained)."""
    from timbral.artifact import ModelArtifact
    from timbral.errors import ModelError

    try:
        ModelArtifact.load(path).build_model()
    except ModelError as exc:
        log.warning("%s: retraining (%s)", path, exc)
        return False
    return True


# --- evaluate -------------------------------------------------------------------------------

def test_info(rows: pd.DataFrame) -> pd.DataFrame:
    """What evaluation needs to know about each test clip (polyphony, audio for the report)."""
    n_active = rows["n_active"] if "n_active" in rows else pd.Series(-1, index=rows.index)
    return pd.DataFrame({
        "item_id": rows["item_id"], "track_id": rows["track_id"], "kind": rows["kind"],
        "n_active": n_active.fillna(-1).astype(int), "audio_path": rows["path"],
        "start": rows["start"] if "start" in rows else 0.0, "classes": rows["classes"],
    }).reset_index(drop=True)


def stage_evaluate(cfg: PipelineConfig, ws: Workspace, model: str, artifact: Path,
                   test_rows: pd.DataFrame, val: ClipSet | None, classes: list[str],
                   split_info: dict, out: Path | None = None, key_extra: str = "",
                   training_log: Path | None = None) -> dict:
    import json

    from timbral.evaluation import evaluate_model

    out = out or ws.eval_dir(model)

    def key() -> str:  # evaluation may re-save the artifact (tuned thresholds): key it after
        mtime = artifact.stat().st_mtime_ns if artifact.exists() else 0
        return stable_hash("eval", model, mtime, test_rows["item_id"].tolist(), split_info, key_extra)

    stage = f"eval-{stable_hash(str(out.resolve()), length=8)}-{model}"
    if ws.fresh(stage, key(), out / "metrics.json"):
        metrics = json.loads((out / "metrics.json").read_text())
        say("evaluate", f"{model}: reused {out / 'metrics.json'}")
        return metrics
    test = clipset(test_rows, classes)
    metrics = evaluate_model(artifact, test, out, val=val, test_info=test_info(test_rows),
                             split_info=split_info, tune=val is not None, training_log=training_log)
    ws.mark(stage, key())
    say(
        "evaluate",
        f"{model}: macro-F1 {metrics['macro_f1']:.3f}, micro-F1 {metrics['micro_f1']:.3f}, "
        f"mAP {metrics['map_macro']:.3f} on {metrics['n_test_items']} clips -> {out / 'metrics.json'}",
    )
    return metrics


# --- analysis -------------------------------------------------------------------------------

def stage_analysis(cfg: PipelineConfig, ws: Workspace, root: Path) -> dict:
    from timbral.analysis import analyze

    paths = analyze(metadata=root, tracks=cfg.tracks, kinds=cfg.kinds, taxonomy=cfg.taxonomy,
                    out=ws.analysis_dir)
    say("analysis", f"label counts, genre x instrument and co-occurrence matrices -> {ws.analysis_dir}")
    return paths


def copy_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
