"""`timbral evaluate`: score model artifacts on a run's test split, or on a whole other tree."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from timbral.cli._common import add_config_options

    p = sub.add_parser(
        "evaluate", help="metrics, figures and report for model artifacts",
        description="With --workdir: the run's test split (thresholds tuned on its validation "
        "split). With --root: every item of another MedleyDB-shaped tree is a test item.",
    )
    p.add_argument("--model", action="append", required=True, help="model artifact (repeatable)")
    p.add_argument("--root", default=None, help="score on every item of this MedleyDB tree")
    p.add_argument("--kinds", default="mix,stem,raw", help="with --root: kinds to score")
    p.add_argument("--out", required=True, help="output folder")
    add_config_options(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from timbral.artifact import ModelArtifact
    from timbral.evaluation import compare_models
    from timbral.pipeline import stages

    out = Path(args.out)
    artifacts = {}
    for path in args.model:
        art = ModelArtifact.load(path)
        name = art.model_name if art.model_name not in artifacts else f"{art.model_name}_{len(artifacts)}"
        artifacts[name] = (Path(path), art)
    if args.root:
        rows, classes, val, split_info, cfg, ws = _tree_rows(args, next(iter(artifacts.values()))[1], out)
    else:
        from timbral.cli._common import workspace_state

        cfg, ws, manifest, all_rows = workspace_state(args)
        rows = all_rows[all_rows["split"] == "test"].reset_index(drop=True)
        val = stages.clipset(all_rows[all_rows["split"] == "val"].reset_index(drop=True), manifest.classes)
        classes = manifest.classes
        split_info = {"group": cfg.split.get("group", "artist"), "seed": cfg.split.get("seed", 0)}
    metrics = {
        name: stages.stage_evaluate(cfg, ws, name, path, rows, val, classes, split_info,
                                    out=out / name, key_extra=str(out))
        for name, (path, _) in artifacts.items()
    }
    if len(metrics) > 1:
        table = compare_models(metrics)
        table.to_csv(out / "comparison.csv", index=False)
        print(table.to_string(index=False))
    return 0


def _tree_rows(args, artifact, out):
    from dataclasses import replace

    from timbral.data.features import extract_features
    from timbral.data.manifest import build_manifest
    from timbral.errors import ModelError
    from timbral.pipeline import stages
    from timbral.pipeline.config import load_config
    from timbral.pipeline.workspace import Workspace

    manifest = build_manifest(args.root, args.kinds, taxonomy_from(artifact, out))
    if list(manifest.classes) != list(artifact.classes):
        raise ModelError(f"{args.model[0]}: the model's classes differ from the tree's taxonomy")
    cfg = load_config(args.preset, args.config, n_jobs=args.jobs)
    cfg = replace(cfg, feature=artifact.feature, segment=artifact.segment)
    ws = Workspace(out)
    table = extract_features(manifest, out / "cache", artifact.feature, artifact.segment,
                             n_jobs=args.jobs, progress=True)
    rows = stages.usable(manifest, table)
    return rows, manifest.classes, None, {"group": f"none: all of {args.root}"}, cfg, ws


def taxonomy_from(artifact, out):
    """The taxonomy stored in the artifact, so the tree is labelled exactly as in training."""
    from timbral.taxonomy import Taxonomy

    return Taxonomy.from_dict(artifact.taxonomy, source="model artifact")
