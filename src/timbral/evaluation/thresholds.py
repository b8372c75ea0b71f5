"""Per-class decision thresholds chosen on the validation split to maximise F1."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

from timbral.errors import DatasetError


def tune_threshold(y_true: np.ndarray, y_prob: np.ndarray, default: float = 0.5) -> float:
    """The threshold maximising F1 for one class (`default` if the class has no positives).

    Candidates are the observed scores; the chosen one is moved halfway down to the next lower
    score, so `prob >= t` and `prob > t` select the same items. Ties go to the candidate closest
    to `default`.
    """
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(y_prob, dtype=np.float64).reshape(-1)
    if y.sum() == 0:
        return float(default)
    precision, recall, cand = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = np.flatnonzero(np.isclose(f1, f1.max(), rtol=0, atol=1e-12))
    k = best[np.argmin(np.abs(cand[best] - default))]
    t = float(cand[k])
    lower = p[p < t]
    if lower.size:
        mid = (t + float(lower.max())) / 2
        if lower.max() < mid < t:
            t = mid
    return t


def tune_thresholds(y_true_val: np.ndarray, y_prob_val: np.ndarray, default: float = 0.5) -> np.ndarray:
    """Per-class thresholds (C,) maximising each class's F1 on validation."""
    y = np.asarray(y_true_val)
    p = np.asarray(y_prob_val)
    if y.ndim != 2 or y.shape != p.shape or len(y) == 0:
        raise DatasetError(f"thresholds: validation labels {y.shape} and probabilities {p.shape} disagree")
    return np.array([tune_threshold(y[:, c], p[:, c], default) for c in range(y.shape[1])])
