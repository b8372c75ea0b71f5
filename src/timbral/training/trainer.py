"""`train_model`: Lightning training of a registered CNN, ending in a model artifact."""

from __future__ import annotations

import contextlib
import logging
import shutil
import warnings
from dataclasses import asdict
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities.warnings import PossibleUserWarning

from timbral.config import FeatureConfig, SegmentConfig
from timbral.data.clips import ClipSet
from timbral.errors import ConfigError, ModelError
from timbral.models import MODELS
from timbral.training.config import TrainConfig
from timbral.training.data import check_sets, make_loader
from timbral.training.log import EpochCSV, read_log
from timbral.training.module import TaggingModule
from timbral.training.result import (
    ARTIFACT_NAME,
    CHECKPOINT_NAME,
    LOG_NAME,
    TrainResult,
    resolved_kwargs,
    write_artifact,
)

WORK_DIR = ".training"  # in-progress files; moved into place when training ends
VAL_KEYS = ("val_loss", "val_binary_accuracy", "val_auc")


def train_model(
    model_name: str,
    train: ClipSet,
    val: ClipSet,
    out_dir: str | Path,
    cfg: TrainConfig = TrainConfig(),
    feature_cfg: FeatureConfig = FeatureConfig(),
    segment_cfg: SegmentConfig = SegmentConfig(),
    taxonomy: dict | None = None,
    model_kwargs: dict | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train `model_name` on `train`, early-stopping on `val`'s loss; restore the best epoch's
    weights and write out_dir/model.pt, out_dir/training_log.csv and out_dir/best.ckpt.

    Rerunning retrains from scratch; the three files are replaced only when training ends.
    With strategy "ddp" the calling program runs once per process: every process returns
    after the artifact is written, but only the global-zero one writes the files and gets the
    metrics (the others get `global_zero=False` and empty `val_metrics`).
    """
    if model_name not in MODELS:
        raise ModelError(f"unknown model {model_name!r} (known: {', '.join(sorted(MODELS))})")
    if model_name == "descriptor_logreg":
        raise ConfigError("descriptor_logreg is fitted with scikit-learn: use train_baseline")
    check_sets(train, val)
    out_dir = Path(out_dir)
    work = out_dir / WORK_DIR
    kwargs = resolved_kwargs(model_name, {"n_mels": feature_cfg.n_mels, **(model_kwargs or {})})
    shape = (feature_cfg.n_mels, feature_cfg.n_frames)

    with _quiet_lightning(), _restore_determinism():
        trainer = _trainer(cfg, work, out_dir, progress)
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        module = TaggingModule(model_name, len(train.classes), kwargs, cfg.lr,
                               csv_log=EpochCSV(work / LOG_NAME))
        trainer.fit(
            module,
            make_loader(train, shape, cfg.batch_size, shuffle=True, num_workers=cfg.num_workers),
            make_loader(val, shape, cfg.batch_size, shuffle=False, num_workers=cfg.num_workers),
        )
    if not trainer.is_global_zero:
        trainer.strategy.barrier("timbral-artifact")  # returns once the artifact is written
        return TrainResult(out_dir / ARTIFACT_NAME, out_dir / LOG_NAME,
                           out_dir / CHECKPOINT_NAME, {}, trainer.current_epoch, -1,
                           global_zero=False)
    try:
        return _finish(model_name, train, val, out_dir, work, cfg, kwargs, feature_cfg,
                       segment_cfg, taxonomy)
    finally:
        trainer.strategy.barrier("timbral-artifact")


def _trainer(cfg: TrainConfig, work: Path, out_dir: Path, progress: bool) -> L.Trainer:
    callbacks = [
        _FreshWorkDir(work),
        EarlyStopping(monitor="val_loss", mode="min", patience=cfg.patience),
        ModelCheckpoint(dirpath=work, filename="best", monitor="val_loss", mode="min",
                        save_top_k=1, enable_version_counter=False),
    ]
    logger: object = False
    if cfg.tensorboard:
        from lightning.pytorch.loggers import TensorBoardLogger
        from lightning.pytorch.loggers.tensorboard import _TENSORBOARD_AVAILABLE

        if not _TENSORBOARD_AVAILABLE:
            raise ConfigError("train.tensorboard: the tensorboard package is not installed "
                              "(pip install tensorboard)")
        logger = TensorBoardLogger(out_dir, name="tensorboard")
    try:
        return L.Trainer(
            accelerator=cfg.accelerator, devices=cfg.devices, strategy=cfg.strategy,
            num_nodes=cfg.num_nodes, precision=cfg.precision, max_epochs=cfg.max_epochs,
            deterministic=cfg.deterministic, logger=logger, callbacks=callbacks,
            enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
            limit_train_batches=cfg.limit_train_batches, limit_val_batches=cfg.limit_val_batches,
            default_root_dir=work, log_every_n_steps=1,
        )
    except (MisconfigurationException, ImportError, ValueError, RuntimeError, TypeError) as exc:
        raise ConfigError(f"train: {str(exc).splitlines()[0]}") from None


def _finish(model_name: str, train: ClipSet, val: ClipSet, out_dir: Path, work: Path,
            cfg: TrainConfig, kwargs: dict, feature_cfg: FeatureConfig,
            segment_cfg: SegmentConfig, taxonomy: dict | None) -> TrainResult:
    ckpt_path = work / f"best{ModelCheckpoint.FILE_EXTENSION}"
    if not ckpt_path.is_file():
        raise ModelError(f"{ckpt_path}: training ended without a best checkpoint")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    best_epoch = int(checkpoint["epoch"])
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()
             if k.startswith("model.")}
    rows = read_log(work / LOG_NAME)
    best = next(r for r in rows if r["epoch"] == best_epoch)
    val_metrics = {k: best[k] for k in VAL_KEYS}
    training = {
        "config": asdict(cfg), "epochs_run": len(rows), "best_epoch": best_epoch,
        "n_train": len(train), "n_val": len(val),
        "train_class_counts": dict(zip(train.classes, train.y.sum(0).astype(int).tolist())),
    }
    log_csv = (work / LOG_NAME).replace(out_dir / LOG_NAME)
    best_ckpt = ckpt_path.replace(out_dir / CHECKPOINT_NAME)
    artifact = write_artifact(out_dir, model_name, train.classes, state, kwargs, taxonomy,
                              feature_cfg, segment_cfg, training,
                              {**val_metrics, "epoch": best_epoch})
    shutil.rmtree(work, ignore_errors=True)
    return TrainResult(artifact, log_csv, best_ckpt, val_metrics, len(rows), best_epoch)


class _FreshWorkDir(Callback):
    """Empty the in-progress folder when fitting starts (global-zero process only: ranks are
    known by then, also for processes that DDP launched)."""

    def __init__(self, work: Path) -> None:
        self.work = work

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            shutil.rmtree(self.work, ignore_errors=True)
            self.work.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def _quiet_lightning():
    """Hide Lightning's banner lines and advice warnings; errors and the progress bar stay."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=PossibleUserWarning)
            warnings.filterwarnings("ignore", message=".*sync_dist=True.*")
            warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _restore_determinism():
    """Trainer(deterministic=True) switches torch to deterministic algorithms process-wide;
    switch back afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
