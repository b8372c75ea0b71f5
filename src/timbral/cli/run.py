"""`timbral run`: the whole study in one command."""

from __future__ import annotations

import argparse

from timbral.cli._common import add_config_options, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run the whole study (corpus, features, split, training, evaluation, report)",
        description="Run every stage into --out; a rerun reuses what is unchanged.",
    )
    p.add_argument("--out", default="runs/demo", help="run folder (default: runs/demo)")
    p.add_argument("--root", default=None,
                   help="a MedleyDB tree (Audio/, Annotations/) instead of the embedded corpus")
    p.add_argument("--tracks", default=None, help="a track list file (one Artist_Title per line)")
    add_config_options(p, workdir=False)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from timbral.pipeline.run import run_pipeline

    cfg = load(args, root=args.root, tracks=args.tracks)
    run_pipeline(cfg, args.out)
    return 0
