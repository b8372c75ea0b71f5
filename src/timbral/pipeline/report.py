"""Gather a run's outputs into the evaluation report (`report.html`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from timbral.data.clips import load_feature
from timbral.data.manifest import Manifest
from timbral.pipeline import stages
from timbral.pipeline.config import PipelineConfig
from timbral.pipeline.workspace import Workspace

DESCRIPTIONS = {
    "reference_cnn": "the reference study's 4-block CNN (528,145 parameters with 17 classes)",
    "improved_cnn": ("batch-norm CNN, strided first layer, frequency pooling, per-frame logits "
                     "averaged over time (99,585 parameters with 17 classes)"),
    "descriptor_logreg": "MFCC + spectral descriptor statistics, one-vs-rest logistic regression",
}


def training_log(model_dir: Path) -> Path | None:
    logs = sorted(model_dir.glob("*.csv"))
    return logs[0] if logs else None


def _counts(y: np.ndarray, classes: list[str]) -> dict[str, int]:
    return dict(zip(classes, y.sum(0).astype(int).tolist()))


def _examples(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for kind in ("stem", "mix"):
        pick = rows[rows["kind"] == kind]
        if len(pick):
            r = pick.iloc[0]
            out[f"{kind}: {r['item_id']} ({', '.join(r['classes'])})"] = load_feature(r["feature_path"])
    return out


def stage_report(cfg: PipelineConfig, ws: Workspace, manifest: Manifest, rows: pd.DataFrame,
                 balanced, artifacts: dict[str, Path], metrics: dict[str, dict],
                 unseen: dict[str, dict], analysis: dict, tag: dict | None) -> Path:
    from timbral.evaluation import ModelReport, ReportContext, write_report

    classes = manifest.classes
    models = [ModelReport(m, metrics[m], ws.eval_dir(m), training_log(ws.model_dir(m)),
                          DESCRIPTIONS.get(m, "")) for m in metrics]
    general = [ModelReport(m, unseen[m], ws.unseen_dir / "eval" / m, None, DESCRIPTIONS.get(m, ""))
               for m in unseen]
    figures = {k: Path(v) for k, v in (analysis or {}).items() if str(v).endswith(".png")}
    if tag:
        figures[f"Tagging timeline of {Path(tag['file']).name} with the best model "
                f"(true: {', '.join(tag['true'])})"] = Path(tag["plot"])
    split_counts = {
        s: _counts(stages.multi_hot(rows[rows["split"] == s], classes), classes) for s in stages.SPLITS
    }
    ctx = ReportContext(
        title="timbral: instrument recognition report",
        subtitle=(f"preset {cfg.preset}; data: "
                  + (cfg.root or "embedded corpus rendered from real MedleyDB metadata")),
        models=models,
        dataset={
            "items": len(rows), "songs": rows["track_id"].nunique(), "artists": rows["artist"].nunique(),
            "kinds": ", ".join(cfg.kinds), "classes": len(classes), "taxonomy": cfg.taxonomy,
            "split": f"60/24/16 grouped by {cfg.split.get('group', 'artist')}, seed {cfg.split.get('seed', 0)}",
            "segment": f"{cfg.feature.segment_seconds:g} s at {cfg.feature.sr} Hz, {cfg.feature.n_mels} mels",
            "training clips after balancing": len(balanced.train),
        },
        label_counts=_counts(stages.multi_hot(rows, classes), classes),
        split_counts=split_counts,
        train_counts_before=balanced.counts_before,
        train_counts_after=balanced.counts_after,
        example_logmels=_examples(rows),
        analysis_figures=figures,
        generalisation=general,
        generalisation_note=(
            "The test songs rendered again with a SoundFont that no model heard in training "
            "(same notes, gains and effects; other instrument samples). Every clip is a test clip."
            if general else ""),
        feature=cfg.feature,
    )
    path = write_report(ws.root, ctx)
    stages.say("report", f"{path}")
    return path
