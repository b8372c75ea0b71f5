"""Every figure has a title and axis labels, draws into a given axes, and saves as PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from timbral.errors import DatasetError
from timbral.evaluation import plots
from timbral.evaluation.metrics import polyphony_metrics, single_label_confusion

CLASSES = ["voice", "bass", "drums"]
COUNTS = {"voice": 30, "bass": 12, "drums": 20}


def _labelled(fig: Figure) -> None:
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.axison]
    assert axes
    for ax in axes:
        assert ax.get_title(), "axes without a title"
        assert ax.get_xlabel() or ax.get_ylabel(), f"axes {ax.get_title()!r} without labels"


def _log() -> pd.DataFrame:
    e = np.arange(6)
    return pd.DataFrame({
        "epoch": e, "train_loss": 0.7 - 0.1 * e, "val_loss": [0.7, 0.5, 0.4, 0.35, 0.36, 0.4],
        "train_binary_accuracy": 0.6 + 0.05 * e, "val_binary_accuracy": 0.6 + 0.04 * e,
        "train_auc": 0.5 + 0.08 * e, "val_auc": 0.5 + 0.07 * e,
    })


def test_each_figure_is_titled_and_labelled(tmp_path):
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1]])
    p = np.clip(y * 0.7 + 0.1, 0, 1)
    figs = [
        plots.plot_label_distribution(COUNTS),
        plots.plot_split_counts({"train": COUNTS, "val": {"voice": 5, "bass": 2}}),
        plots.plot_balancing(COUNTS, {"voice": 30, "bass": 30, "drums": 30}),
        plots.plot_logmels({"stem": np.zeros((16, 20)), "mix": np.ones((16, 20))}),
        plots.plot_training_curves(_log()),
        plots.plot_confusion(single_label_confusion(y, p, CLASSES)),
        plots.plot_polyphony(polyphony_metrics(y, (p > 0.5).astype(int), [1, 1, 1, 2, 2])),
        plots.plot_pr_curves(y, p, CLASSES, [0.5, 0.5, 0.5], ncols=2),
    ]
    for k, fig in enumerate(figs):
        _labelled(fig)
        path = plots.save_figure(fig, tmp_path / f"f{k}.png")
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_plots_draw_into_given_axes():
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plots.plot_label_distribution(COUNTS, ax=ax1) is fig
    assert plots.plot_balancing(COUNTS, COUNTS, ax=ax2) is fig
    assert ax1.get_title() == "Label distribution"


def test_training_log_with_separate_train_and_val_rows_is_merged(tmp_path):
    log = tmp_path / "log.csv"
    pd.DataFrame({"epoch": [0, 0, 1, 1], "train_loss": [0.5, None, 0.4, None],
                  "val_loss": [None, 0.6, None, 0.5]}).to_csv(log, index=False)
    frame = plots.read_training_log(log)
    assert list(frame["val_loss"]) == [0.6, 0.5]
    fig = plots.plot_training_curves(log)
    assert len(fig.axes) == 1  # only the loss columns exist


def test_training_log_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("step,loss\n1,0.3\n")
    with pytest.raises(DatasetError, match="epoch"):
        plots.plot_training_curves(bad)
    with pytest.raises(DatasetError, match="unreadable"):
        plots.plot_training_curves(tmp_path / "missing.csv")
