"""`timbral split`: the artist-grouped, multilabel-stratified train/val/test split."""

from __future__ import annotations

import argparse

from timbral.cli._common import add_config_options, workspace_state


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("split", help="split <workdir> items 60/24/16, grouped by artist")
    add_config_options(p)
    p.add_argument("--group", choices=["artist", "track", "clip"], default=None,
                   help="grouping (default artist; clip reproduces the reference's leaky protocol)")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from timbral.data.splits import split_counts
    from timbral.pipeline import stages

    cfg, ws, manifest, rows = workspace_state(args)
    if args.group:
        cfg.split["group"] = args.group
    if args.seed is not None:
        cfg.split["seed"] = args.seed
    rows = stages.stage_split(cfg, ws, rows.drop(columns=["split"], errors="ignore"), manifest.classes)
    print(split_counts(stages.multi_hot(rows, manifest.classes), rows["split"].to_numpy(),
                       manifest.classes).to_string())
    return 0
