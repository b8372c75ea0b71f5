"""`timbral train`: balance the training split and train one or more models."""

from __future__ import annotations

import argparse

from timbral.cli._common import add_config_options, workspace_state


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train models on <workdir>'s split (artifact, CSV log, checkpoint)")
    add_config_options(p)
    p.add_argument("--model", action="append", default=None,
                   help="reference_cnn, improved_cnn or descriptor_logreg (repeatable; default: all)")
    p.add_argument("--max-epochs", type=int, default=None)
    p.add_argument("--accelerator", default=None, help="Lightning accelerator: auto, cpu, gpu")
    p.add_argument("--devices", default=None, help="Lightning devices, e.g. 2 (DDP across them)")
    p.add_argument("--num-nodes", type=int, default=None, help="nodes for multi-node DDP")
    p.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from timbral.config import stable_hash
    from timbral.errors import DatasetError
    from timbral.pipeline import stages
    from timbral.taxonomy import load_taxonomy

    cfg, ws, manifest, rows = workspace_state(args)
    if "split" not in rows:
        raise DatasetError(f"{ws.split}: missing; run `timbral split --workdir {ws.root}` first")
    overrides = {"max_epochs": args.max_epochs, "accelerator": args.accelerator,
                 "devices": int(args.devices) if args.devices and args.devices.isdigit() else args.devices,
                 "num_nodes": args.num_nodes, "strategy": args.strategy}
    cfg.train.update({k: v for k, v in overrides.items() if v is not None})
    train_rows = rows[rows["split"] == "train"].reset_index(drop=True)
    balanced = stages.stage_balance(cfg, ws, manifest, train_rows)
    val = stages.clipset(rows[rows["split"] == "val"].reset_index(drop=True), manifest.classes)
    data_key = stable_hash(rows["item_id"].tolist(), rows["split"].tolist(), balanced.train.paths)
    taxonomy = load_taxonomy(cfg.taxonomy).to_dict()
    for model in args.model or cfg.models:
        stages.stage_train(cfg, ws, model, balanced.train, val, taxonomy, data_key)
    return 0
