"""Multilabel metrics, computed with scikit-learn so they compare one to one with the
reference study's classification report.

Conventions: `y_true` is multi-hot (N, C); `y_prob` holds probabilities (N, C); a class is
predicted when its probability is >= its threshold; every precision/recall/F1 uses
`zero_division=0`. AUC and average precision are undefined for a class without positives (and
AUC also for a class without negatives): those classes get `None` and are left out of the macro
averages, whose members are listed in `auc_classes_used` / `ap_classes_used`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    precision_recall_fscore_support,
    roc_auc_score,
)

from timbral.errors import DatasetError

AVERAGES = ("micro", "macro", "weighted", "samples")
EPS = 1e-7  # probability clipping for the loss (the value Keras uses)
NONE_LABEL = "(none)"  # confusion-matrix column: nothing predicted above threshold


def check_shapes(y_true: np.ndarray, y_prob: np.ndarray, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float (N, C) matching `classes`; DatasetError otherwise."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_prob.shape or y_true.shape[1] != len(classes):
        raise DatasetError(
            f"metrics: labels {y_true.shape} and probabilities {y_prob.shape} do not match "
            f"{len(classes)} classes"
        )
    if len(y_true) == 0:
        raise DatasetError("metrics: no test items")
    if not np.isin(y_true, (0.0, 1.0)).all():
        raise DatasetError("metrics: labels must be multi-hot (0 or 1)")
    if not np.isfinite(y_prob).all() or y_prob.min() < 0 or y_prob.max() > 1:
        raise DatasetError("metrics: probabilities must be finite and within [0, 1]")
    return y_true, y_prob


def as_thresholds(thresholds: float | Sequence[float] | np.ndarray, n_classes: int) -> np.ndarray:
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n_classes, float(t))
    if t.shape != (n_classes,):
        raise DatasetError(f"metrics: {t.size} thresholds for {n_classes} classes")
    return t


def binarize(y_prob: np.ndarray, thresholds: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """Multi-hot predictions: probability >= the class's threshold."""
    y_prob = np.asarray(y_prob)
    return (y_prob >= as_thresholds(thresholds, y_prob.shape[1])[None, :]).astype(np.int64)


def bce_loss(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean binary cross-entropy over all items and classes (probabilities clipped to 1e-7)."""
    p = np.clip(np.asarray(y_prob, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y_true, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _num(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def compute_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    classes: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray = 0.5,
) -> dict:
    """Every headline figure of an evaluation, as a JSON-able dict.

    Keys: n_items, loss, binary_accuracy, subset_accuracy, auc_macro, auc_micro, map_macro,
    {micro,macro,weighted,samples}_{precision,recall,f1}, auc_classes_used, ap_classes_used,
    per_class {class: precision, recall, f1, support, auc, ap, threshold}.
    """
    classes = list(classes)
    y_true, y_prob = check_shapes(y_true, y_prob, classes)
    t = as_thresholds(thresholds, len(classes))
    y_pred = binarize(y_prob, t)
    yt = y_true.astype(np.int64)

    out: dict = {
        "n_items": int(len(yt)),
        "loss": bce_loss(yt, y_prob),
        "binary_accuracy": float(np.mean(yt == y_pred)),
        "subset_accuracy": float(np.mean((yt == y_pred).all(axis=1))),
    }
    pos, neg = yt.sum(axis=0), (1 - yt).sum(axis=0)
    auc_ok = [c for c in range(len(classes)) if pos[c] > 0 and neg[c] > 0]
    ap_ok = [c for c in range(len(classes)) if pos[c] > 0]
    auc = {c: float(roc_auc_score(yt[:, c], y_prob[:, c])) for c in auc_ok}
    ap = {c: float(average_precision_score(yt[:, c], y_prob[:, c])) for c in ap_ok}
    out["auc_macro"] = float(np.mean(list(auc.values()))) if auc else None
    both = pos.sum() > 0 and neg.sum() > 0
    out["auc_micro"] = float(roc_auc_score(yt.ravel(), y_prob.ravel())) if both else None
    out["map_macro"] = float(np.mean(list(ap.values()))) if ap else None
    out["auc_classes_used"] = [classes[c] for c in auc_ok]
    out["ap_classes_used"] = [classes[c] for c in ap_ok]

    for avg in AVERAGES:
        p, r, f, _ = precision_recall_fscore_support(yt, y_pred, average=avg, zero_division=0)
        out[f"{avg}_precision"], out[f"{avg}_recall"], out[f"{avg}_f1"] = float(p), float(r), float(f)

    p, r, f, s = precision_recall_fscore_support(yt, y_pred, average=None, zero_division=0)
    out["per_class"] = {
        name: {
            "precision": float(p[c]), "recall": float(r[c]), "f1": float(f[c]),
            "support": int(s[c]), "auc": _num(auc.get(c)), "ap": _num(ap.get(c)),
            "threshold": float(t[c]),
        }
        for c, name in enumerate(classes)
    }
    return out


def classification_report_frame(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]
) -> pd.DataFrame:
    """scikit-learn's classification report (per class + micro/macro/weighted/samples rows)."""
    rep = classification_report(
        np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64),
        target_names=list(classes), zero_division=0, output_dict=True,
    )
    frame = pd.DataFrame(rep).T
    frame.index.name = "class"
    frame["support"] = frame["support"].astype(int)
    return frame[["precision", "recall", "f1-score", "support"]]


def single_label_confusion(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    classes: Sequence[str],
    thresholds: float | Sequence[float] | np.ndarray = 0.5,
) -> dict:
    """Confusion counts over the items with exactly one true class.

    Each such item is assigned the predicted class with the highest probability among those at
    or above threshold, or the extra column "(none)" when nothing is predicted. Returns
    {"n_items", "true_labels", "pred_labels", "counts" (C x C+1 list of ints)}.
    """
    classes = list(classes)
    y_true, y_prob = check_shapes(y_true, y_prob, classes)
    t = as_thresholds(thresholds, len(classes))
    single = np.flatnonzero(y_true.sum(axis=1) == 1)
    counts = np.zeros((len(classes), len(classes) + 1), dtype=np.int64)
    for i in single:
        true_c = int(np.argmax(y_true[i]))
        above = y_prob[i] >= t
        pred_c = int(np.argmax(np.where(above, y_prob[i], -1.0))) if above.any() else len(classes)
        counts[true_c, pred_c] += 1
    return {
        "n_items": int(len(single)),
        "true_labels": classes,
        "pred_labels": classes + [NONE_LABEL],
        "counts": counts.tolist(),
    }


POLYPHONY_BUCKETS = ("1", "2", "3", "4-5", "6+")


def polyphony_bucket(n: int) -> str | None:
    """'1', '2', '3', '4-5' or '6+'; None for fewer than one active class."""
    if n < 1:
        return None
    if n <= 3:
        return str(n)
    return "4-5" if n <= 5 else "6+"


def polyphony_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, n_active: Sequence[int] | np.ndarray
) -> dict:
    """F1 figures per polyphony bucket (how many classes are active in the segment).

    `n_active[i]` is given by the caller; -1 means unknown, and then the item's label count is
    used. Items with no active class are counted in `n_skipped`. Macro averages in a bucket run
    over the classes present in that bucket's labels. Returns
    {"buckets": {bucket: {n_items, micro_f1, macro_f1, samples_f1, micro_precision,
    micro_recall, mean_labels}}, "n_items", "n_from_label_count", "n_skipped"}.
    """
    yt = np.asarray(y_true, dtype=np.int64)
    yp = np.asarray(y_pred, dtype=np.int64)
    n = np.asarray(n_active, dtype=np.int64).reshape(-1)
    if yt.shape != yp.shape or yt.ndim != 2 or len(n) != len(yt):
        raise DatasetError(
            f"polyphony: labels {yt.shape}, predictions {yp.shape} and {len(n)} counts disagree"
        )
    unknown = n < 0
    n = np.where(unknown, yt.sum(axis=1), n)
    buckets = np.array([polyphony_bucket(int(k)) for k in n], dtype=object)
    out: dict = {}
    for b in POLYPHONY_BUCKETS:
        idx = np.flatnonzero(buckets == b)
        row: dict = {"n_items": int(len(idx))}
        if len(idx):
            t, p = yt[idx], yp[idx]
            present = np.flatnonzero(t.sum(axis=0) > 0)
            pm, rm, fm, _ = precision_recall_fscore_support(t, p, average="micro", zero_division=0)
            fmac = (
                precision_recall_fscore_support(t, p, average="macro", labels=present,
                                                zero_division=0)[2]
                if len(present) else 0.0
            )
            fs = precision_recall_fscore_support(t, p, average="samples", zero_division=0)[2]
            row.update(micro_f1=float(fm), macro_f1=float(fmac), samples_f1=float(fs),
                       micro_precision=float(pm), micro_recall=float(rm),
                       mean_labels=float(t.sum(axis=1).mean()))
        else:
            row.update(micro_f1=None, macro_f1=None, samples_f1=None, micro_precision=None,
                       micro_recall=None, mean_labels=None)
        out[b] = row
    return {
        "buckets": out,
        "n_items": int(sum(r["n_items"] for r in out.values())),
        "n_from_label_count": int(unknown.sum()),
        "n_skipped": int(sum(1 for b in buckets if b is None)),
    }
