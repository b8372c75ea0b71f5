"""What a training run leaves behind, and the artifact writer shared by every model."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import torch

from timbral.artifact import ModelArtifact
from timbral.config import FeatureConfig, SegmentConfig
from timbral.errors import ModelError
from timbral.models import MODELS

ARTIFACT_NAME = "model.pt"
LOG_NAME = "training_log.csv"
CHECKPOINT_NAME = "best.ckpt"


@dataclass(frozen=True)
class TrainResult:
    """Paths of the artifact, the per-epoch log and the best checkpoint; validation metrics of
    the best epoch (keys val_loss, val_binary_accuracy, val_auc); epochs are counted from 0.
    `global_zero` is False in the other processes of a DDP run (they write nothing)."""

    artifact_path: Path
    log_csv: Path
    best_checkpoint: Path
    val_metrics: dict
    epochs_run: int
    best_epoch: int
    global_zero: bool = True


def resolved_kwargs(model_name: str, kwargs: dict) -> dict:
    """The constructor keywords with every default filled in (tuples as lists), so an artifact
    rebuilds the same network even if a later version changes a default."""
    params = inspect.signature(MODELS[model_name].__init__).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ModelError(f"model {model_name!r}: unknown option(s) {', '.join(unknown)}")
    full = {name: kwargs.get(name, p.default) for name, p in params.items()
            if name not in ("self", "n_classes") and p.default is not inspect.Parameter.empty}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in full.items()}


def write_artifact(
    out_dir: Path, model_name: str, classes: list[str], state_dict: dict[str, torch.Tensor],
    model_kwargs: dict, taxonomy: dict | None, feature_cfg: FeatureConfig,
    segment_cfg: SegmentConfig, training: dict, metrics: dict,
) -> Path:
    """Save the self-describing artifact atomically to out_dir/model.pt (thresholds 0.5)."""
    artifact = ModelArtifact(
        model_name=model_name, classes=list(classes), state_dict=state_dict,
        model_kwargs=dict(model_kwargs), taxonomy=dict(taxonomy or {}), feature=feature_cfg,
        segment=segment_cfg, training=training, metrics=metrics,
    )
    return artifact.save(Path(out_dir) / ARTIFACT_NAME)
