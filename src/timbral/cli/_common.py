"""Options shared by the stage commands that work inside a run folder."""

from __future__ import annotations

import argparse


def add_config_options(parser: argparse.ArgumentParser, workdir: bool = True) -> None:
    if workdir:
        parser.add_argument("--workdir", default="runs/demo",
                            help="the run folder holding earlier stages' outputs (default: runs/demo)")
    parser.add_argument("--preset", default="demo", help="settings preset: tiny, demo or full (default: demo)")
    parser.add_argument("--config", default=None, help="a YAML file overriding preset settings")
    parser.add_argument("--jobs", type=int, default=-1, help="parallel workers (default: all cores)")


def load(args: argparse.Namespace, **overrides):
    from timbral.pipeline.config import load_config

    return load_config(args.preset, args.config, n_jobs=args.jobs, **overrides)


def workspace_state(args: argparse.Namespace):
    """Config, workspace, manifest and usable rows (with split if present) of a run folder."""
    import pandas as pd

    from timbral.data.manifest import Manifest
    from timbral.errors import DatasetError
    from timbral.pipeline import stages
    from timbral.pipeline.workspace import Workspace

    cfg = load(args)
    ws = Workspace(args.workdir)
    for needed, stage in ((ws.manifest, "manifest"), (ws.features_table, "features")):
        if not needed.exists():
            raise DatasetError(f"{needed}: missing; run `timbral {stage} --workdir {ws.root}` first")
    manifest = Manifest.load(ws.manifest)
    rows = stages.usable(manifest, pd.read_parquet(ws.features_table))
    if ws.split.exists():
        split = pd.read_parquet(ws.split)[["item_id", "split"]]
        rows = rows.merge(split, on="item_id", how="inner")
    return cfg, ws, manifest, rows
