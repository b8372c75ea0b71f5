"""The per-mix table: for each test mix, its true and predicted classes and the hits and misses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SEP = "; "  # joins class names inside one CSV cell

COLUMNS = ["item_id", "true", "predicted", "TP", "FN", "FP", "n_tp", "n_fn", "n_fp"]


def _names(row: np.ndarray, classes: Sequence[str]) -> list[str]:
    return [classes[c] for c in np.flatnonzero(row)]


def mix_table(
    item_ids: Sequence[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[str],
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per item: true, predicted, TP, FN, FP (class names joined by '; ') and counts.

    `extra` (same length, same order) adds columns such as track_id, n_active, audio_path,
    start or feature_path after the class columns.
    """
    classes = list(classes)
    yt = np.asarray(y_true).astype(bool)
    yp = np.asarray(y_pred).astype(bool)
    rows = []
    for i, item in enumerate(item_ids):
        tp, fn, fp = yt[i] & yp[i], yt[i] & ~yp[i], ~yt[i] & yp[i]
        rows.append({
            "item_id": item,
            "true": SEP.join(_names(yt[i], classes)),
            "predicted": SEP.join(_names(yp[i], classes)),
            "TP": SEP.join(_names(tp, classes)),
            "FN": SEP.join(_names(fn, classes)),
            "FP": SEP.join(_names(fp, classes)),
            "n_tp": int(tp.sum()), "n_fn": int(fn.sum()), "n_fp": int(fp.sum()),
        })
    table = pd.DataFrame(rows, columns=COLUMNS)
    if extra is not None and len(extra):
        extra = extra.reset_index(drop=True)
        for col in extra.columns:
            if col not in table.columns:
                table[col] = extra[col].to_numpy()
    return table


def split_names(cell: object) -> list[str]:
    """Class names from one table cell ('' or NaN -> [])."""
    if not isinstance(cell, str) or not cell:
        return []
    return cell.split(SEP)
