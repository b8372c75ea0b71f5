"""Evaluation: metrics (scikit-learn), per-class thresholds, figures, the mix table and the
self-contained HTML report.

    from timbral.evaluation import evaluate_model, write_report, ReportContext, ModelReport

Names are imported lazily, so importing this package does not load torch or matplotlib.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "compute_metrics": "metrics", "binarize": "metrics", "bce_loss": "metrics",
    "classification_report_frame": "metrics", "single_label_confusion": "metrics",
    "polyphony_metrics": "metrics", "polyphony_bucket": "metrics",
    "tune_thresholds": "thresholds", "tune_threshold": "thresholds",
    "mix_table": "mixtable",
    "predict_clips": "evaluate", "evaluate_model": "evaluate", "compare_models": "evaluate",
    "ReportContext": "report", "ModelReport": "report", "write_report": "report",
    "report_problems": "report",
    "take_screenshot": "screenshot", "find_chromium": "screenshot",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"timbral.evaluation.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'timbral.evaluation' has no attribute {name!r}")
