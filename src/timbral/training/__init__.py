"""Training: Lightning for the CNNs, scikit-learn for the descriptor baseline; both end in a
self-describing model artifact.

    from timbral.training import TRAIN_PRESETS, train_model
    result = train_model("improved_cnn", train, val, "runs/m", TRAIN_PRESETS["demo"])
    result.artifact_path, result.log_csv, result.best_checkpoint, result.val_metrics
"""

from __future__ import annotations

from timbral.training.baseline import train_baseline
from timbral.training.config import TRAIN_PRESETS, TrainConfig
from timbral.training.result import TrainResult
from timbral.training.trainer import train_model

__all__ = ["TRAIN_PRESETS", "TrainConfig", "TrainResult", "train_baseline", "train_model"]
