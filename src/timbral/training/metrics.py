"""Per-epoch training metrics (the reference's Keras ones): BCE loss, binary accuracy at 0.5
and macro ROC AUC over classes. Accumulated as a torchmetrics Metric so DDP processes are
gathered before computing."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def macro_auc(target: np.ndarray, scores: np.ndarray) -> float:
    """Mean ROC AUC over the classes with both positives and negatives; NaN if there are none."""
    target = np.asarray(target)
    pos = target.sum(axis=0)
    valid = (pos > 0) & (pos < len(target))
    if not valid.any():
        return math.nan
    return float(roc_auc_score(target[:, valid], np.asarray(scores)[:, valid], average="macro"))


class EpochMetrics(Metric):
    """Accumulates logits and targets over an epoch: loss, binary_accuracy, auc."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("loss_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n_items", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_correct", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_labels", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("scores", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, logits: torch.Tensor, target: torch.Tensor, loss: torch.Tensor) -> None:
        logits, target = logits.detach().float(), target.detach().float()
        self.loss_sum += loss.detach().double() * len(target)
        self.n_items += len(target)
        self.n_correct += ((logits > 0).float() == target).sum()
        self.n_labels += target.numel()
        self.scores.append(torch.sigmoid(logits))
        self.target.append(target)

    def compute(self) -> dict[str, float]:
        scores = dim_zero_cat(self.scores).cpu().numpy()
        target = dim_zero_cat(self.target).cpu().numpy()
        return {
            "loss": float(self.loss_sum / max(int(self.n_items), 1)),
            "binary_accuracy": float(self.n_correct) / max(int(self.n_labels), 1),
            "auc": macro_auc(target, scores),
        }
