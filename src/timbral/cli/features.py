"""`timbral features`: segments and log-mels for every manifest item, cached and resumable."""

from __future__ import annotations

import argparse

from timbral.cli._common import add_config_options, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="extract log-mel features of <workdir>/manifest.parquet (cached)")
    add_config_options(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from timbral.data.manifest import Manifest
    from timbral.errors import DatasetError
    from timbral.pipeline import stages
    from timbral.pipeline.workspace import Workspace

    ws = Workspace(args.workdir)
    if not ws.manifest.exists():
        raise DatasetError(f"{ws.manifest}: missing; run `timbral manifest --root ROOT --workdir {ws.root}`")
    table = stages.stage_features(load(args), ws, Manifest.load(ws.manifest))
    return 0 if (table["status"] != "failed").any() else 2
