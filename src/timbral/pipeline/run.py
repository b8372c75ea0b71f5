"""`timbral run`: the whole study, stage by stage, ending with report.html."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from timbral.artifact import ModelArtifact
from timbral.config import stable_hash
from timbral.pipeline import stages
from timbral.pipeline.config import PipelineConfig
from timbral.pipeline.report import stage_report, training_log
from timbral.pipeline.unseen import stage_unseen
from timbral.pipeline.workspace import Workspace
from timbral.taxonomy import load_taxonomy


def run_pipeline(cfg: PipelineConfig, out: str | Path) -> dict:
    """Run every stage into `out`; returns the headline metrics per model."""
    t0 = time.perf_counter()
    ws = Workspace(out)
    ws.root.mkdir(parents=True, exist_ok=True)
    root = stages.stage_corpus(cfg, ws)
    analysis = stages.stage_analysis(cfg, ws, root)
    manifest = stages.stage_manifest(cfg, ws, root)
    table = stages.stage_features(cfg, ws, manifest)
    rows = stages.stage_split(cfg, ws, stages.usable(manifest, table), manifest.classes)
    by_split = {s: rows[rows["split"] == s].reset_index(drop=True) for s in stages.SPLITS}
    balanced = stages.stage_balance(cfg, ws, manifest, by_split["train"])
    val = stages.clipset(by_split["val"], manifest.classes)
    taxonomy = load_taxonomy(cfg.taxonomy).to_dict()
    data_key = stable_hash(rows["item_id"].tolist(), rows["split"].tolist(), balanced.train.paths)
    artifacts = {
        m: stages.stage_train(cfg, ws, m, balanced.train, val, taxonomy, data_key) for m in cfg.models
    }
    split_info = {"group": cfg.split.get("group", "artist"), "seed": cfg.split.get("seed", 0),
                  "fractions": [0.6, 0.24, 0.16]}
    metrics = {
        m: stages.stage_evaluate(cfg, ws, m, a, by_split["test"], val, manifest.classes, split_info,
                                 training_log=training_log(ws.model_dir(m)))
        for m, a in artifacts.items()
    }
    unseen = stage_unseen(cfg, ws, by_split["test"], artifacts, manifest.classes)
    best = pick_best(artifacts)
    stages.copy_atomic(artifacts[best], ws.best_model)
    stages.say("best", f"{best} (highest validation AUC) -> {ws.best_model}")
    tag = stage_tag(ws, by_split["test"])

    stage_report(cfg, ws, manifest, rows, balanced, artifacts, metrics, unseen, analysis, tag)
    headline = headline_table(metrics, unseen)
    (ws.root / "headline.json").write_text(json.dumps(headline, indent=1))
    print()
    print(format_headline(headline))
    print(f"\nreport: {ws.report.resolve()}  ({time.perf_counter() - t0:.0f} s)")
    return headline


def pick_best(artifacts: dict[str, Path]) -> str:
    """The model with the highest validation macro AUC (never chosen on test data)."""
    def val_auc(path: Path) -> float:
        value = ModelArtifact.load(path).metrics.get("val_auc")
        return float(value) if value is not None else float("-inf")

    return max(artifacts, key=lambda m: val_auc(artifacts[m]))


def stage_tag(ws: Workspace, test_rows: pd.DataFrame) -> dict | None:
    """Tag one test mix with the best model, as a user would: JSON timeline and a plot."""
    from timbral.inference import Tagger

    mixes = test_rows[test_rows["kind"] == "mix"]
    if mixes.empty:
        return None
    path = Path(mixes["path"].iloc[0])
    result = Tagger.load(ws.best_model).predict(path)
    out = ws.root / "tag"
    out.mkdir(exist_ok=True)
    (out / f"{path.stem}.json").write_text(json.dumps(result.to_dict(), indent=1))
    plot = out / f"{path.stem}.png"
    result.plot(plot)
    present = [i["name"] for i in result.to_dict()["instruments"] if i["present"]]
    stages.say("tag", f"{path.name}: {', '.join(present) or 'no instrument'} -> {out}")
    return {"file": str(path), "json": str(out / f"{path.stem}.json"), "plot": str(plot),
            "present": present, "true": list(mixes["classes"].iloc[0])}


def headline_table(metrics: dict[str, dict], unseen: dict[str, dict]) -> list[dict]:
    rows = []
    for model, m in metrics.items():
        row = {"model": model, "macro_f1": m["macro_f1"], "micro_f1": m["micro_f1"],
               "map_macro": m["map_macro"], "auc_macro": m.get("auc_macro"),
               "n_test_items": m["n_test_items"], "thresholds": m.get("thresholds")}
        if model in unseen:
            row["unseen_macro_f1"] = unseen[model]["macro_f1"]
            row["unseen_map_macro"] = unseen[model]["map_macro"]
        rows.append(row)
    return sorted(rows, key=lambda r: (-r["macro_f1"], -r["map_macro"]))


def format_headline(rows: list[dict]) -> str:
    cols = ["model", "macro_f1", "micro_f1", "map_macro", "unseen_macro_f1", "unseen_map_macro"]
    cols = [c for c in cols if any(c in r for r in rows)]
    frame = pd.DataFrame(rows)[cols]
    return "test metrics (artist-grouped split)\n" + frame.to_string(index=False, float_format="%.3f")
