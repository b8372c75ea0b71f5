"""Figures of an evaluation, drawn with matplotlib's object API (no pyplot state, no display).

Every function takes `ax=` (or `axes=` for multi-panel figures) to draw into an existing
figure, and returns the Figure it drew on. `save_figure` writes a PNG atomically.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from timbral.errors import DatasetError

DPI = 100
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def _new(figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, **kw):
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kw)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write `fig` as PNG to `path` (temp name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(png_bytes(fig, dpi))
    tmp.replace(path)
    return path


def _bar_labels(ax: Axes, bars, fmt: str = "{:.0f}", fontsize: float = 7) -> None:
    for b in bars:
        h = b.get_height()
        if np.isfinite(h) and h > 0:
            ax.annotate(fmt.format(h), (b.get_x() + b.get_width() / 2, h), ha="center",
                        va="bottom", fontsize=fontsize, xytext=(0, 1), textcoords="offset points")


def plot_label_distribution(
    counts: Mapping[str, int], ax: Axes | None = None, title: str = "Label distribution",
    ylabel: str = "items with the class",
) -> Figure:
    """Bar chart of how many items carry each class, most frequent first."""
    fig, ax = _axes(ax, (10, 4.2))
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    names = [k for k, _ in items]
    bars = ax.bar(range(len(items)), [v for _, v in items], color=COLORS[0])
    _bar_labels(ax, bars)
    ax.set_xticks(range(len(items)), names, rotation=40, ha="right")
    ax.set(title=title, xlabel="class", ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.12)
    return fig


def _grouped_bars(ax: Axes, groups: Mapping[str, Mapping[str, float]], classes: list[str]) -> None:
    n = max(len(groups), 1)
    width = 0.8 / n
    x = np.arange(len(classes))
    for k, (name, counts) in enumerate(groups.items()):
        vals = [counts.get(c, 0) for c in classes]
        ax.bar(x + (k - (n - 1) / 2) * width, vals, width, label=f"{name} ({int(sum(vals)):,} labels)",
               color=COLORS[k % len(COLORS)])
    ax.set_xticks(x, classes, rotation=40, ha="right")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _class_order(groups: Mapping[str, Mapping[str, float]]) -> list[str]:
    total: dict[str, float] = {}
    for counts in groups.values():
        for c, v in counts.items():
            total[c] = total.get(c, 0) + v
    return sorted(total, key=lambda c: (-total[c], c))


def plot_split_counts(
    split_counts: Mapping[str, Mapping[str, int]], ax: Axes | None = None,
    title: str = "Class counts per split (before balancing)",
) -> Figure:
    """Grouped bars: for each class, its item count in each split."""
    fig, ax = _axes(ax, (10, 4.2))
    _grouped_bars(ax, split_counts, _class_order(split_counts))
    ax.set(title=title, xlabel="class", ylabel="items")
    return fig


def plot_balancing(
    before: Mapping[str, int], after: Mapping[str, int], ax: Axes | None = None,
    title: str = "Training split: class counts before and after balancing",
) -> Figure:
    """Grouped bars of the training split's class counts before and after balancing."""
    fig, ax = _axes(ax, (10, 4.2))
    groups = {"before balancing": before, "after balancing": after}
    _grouped_bars(ax, groups, _class_order({"b": before}))
    ax.set(title=title, xlabel="class", ylabel="training items")
    return fig


def plot_logmels(
    examples: Mapping[str, np.ndarray], sr: int = 22050, hop_length: int = 512,
    axes: Sequence[Axes] | None = None, title: str = "Example log-mel spectrograms",
) -> Figure:
    """One panel per (n_mels, frames) log-mel in dB, time in seconds on x, mel bands on y."""
    if not examples:
        raise DatasetError("plot: no log-mel examples to draw")
    if axes is None:
        fig, grid = _new((10, 3.2 * len(examples)), len(examples), 1)
        axes = list(grid[:, 0])
    fig = axes[0].figure
    for ax, (name, spec) in zip(axes, examples.items(), strict=False):
        spec = np.asarray(spec, dtype=np.float32)
        seconds = spec.shape[1] * hop_length / sr
        im = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma",
                       extent=(0, seconds, 0, spec.shape[0]))
        ax.set(title=name, xlabel="time (s)", ylabel="mel band")
        fig.colorbar(im, ax=ax, format="%+.0f dB", pad=0.01)
    fig.suptitle(title)
    return fig


def read_training_log(log: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The per-epoch log as one row per epoch (rows logged separately per step are merged)."""
    if isinstance(log, pd.DataFrame):
        frame = log
    else:
        try:
            frame = pd.read_csv(log)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DatasetError(f"{log}: unreadable training log ({type(exc).__name__})") from None
    if "epoch" not in frame.columns:
        raise DatasetError(f"{log if not isinstance(log, pd.DataFrame) else 'training log'}: no 'epoch' column")
    return frame.groupby("epoch", as_index=False).mean(numeric_only=True)


def plot_training_curves(
    log: str | Path | pd.DataFrame, axes: Sequence[Axes] | None = None,
    title: str = "Training curves",
) -> Figure:
    """Loss, binary accuracy and AUC per epoch, train vs validation; the best epoch (lowest
    validation loss) is marked."""
    frame = read_training_log(log)
    panels = [(m, label) for m, label in
              (("loss", "BCE loss"), ("binary_accuracy", "binary accuracy"), ("auc", "AUC"))
              if f"train_{m}" in frame or f"val_{m}" in frame]
    if not panels:
        raise DatasetError("training log: none of the loss/binary_accuracy/auc columns")
    if axes is None:
        fig, grid = _new((12, 3.6), 1, len(panels))
        axes = list(grid[0])
    fig = axes[0].figure
    best = None
    if "val_loss" in frame and frame["val_loss"].notna().any():
        best = frame.loc[frame["val_loss"].idxmin(), "epoch"]
    for ax, (metric, label) in zip(axes, panels, strict=False):
        for split, color in (("train", COLORS[0]), ("val", COLORS[1])):
            col = f"{split}_{metric}"
            if col in frame and frame[col].notna().any():
                ok = frame[col].notna()
                ax.plot(frame.loc[ok, "epoch"], frame.loc[ok, col], color=color,
                        marker="o" if ok.sum() < 30 else None, ms=3,
                        label="train" if split == "train" else "validation")
        if best is not None:
            ax.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch ({int(best)})")
        ax.set(title=label, xlabel="epoch", ylabel=label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def plot_confusion(
    confusion: Mapping, axes: Sequence[Axes] | None = None, title: str | None = None,
) -> Figure:
    """Two panels of the single-label confusion matrix: counts and row-normalised rates.

    `confusion` is `metrics.single_label_confusion(...)`'s dict.
    """
    counts = np.asarray(confusion["counts"], dtype=float)
    true_labels, pred_labels = list(confusion["true_labels"]), list(confusion["pred_labels"])
    n = int(confusion["n_items"])
    rows = counts.sum(axis=1, keepdims=True)
    rate = np.divide(counts, rows, out=np.full_like(counts, np.nan), where=rows > 0)
    if axes is None:  # stacked, so each panel keeps the page's full width
        side = 2.5 + 0.34 * len(true_labels)
        fig, grid = _new((side + 1.8, 2 * side + 1.2), 2, 1)
        axes = list(grid[:, 0])
    fig = axes[0].figure
    ylabels = [f"{c} ({int(r)})" for c, r in zip(true_labels, rows[:, 0], strict=True)]
    small = 9 if len(true_labels) > 12 else 10
    for ax, data, name, fmt in ((axes[0], counts, "counts", "{:.0f}"),
                                (axes[1], rate, "row-normalised (share of the true class)", "{:.2f}")):
        im = ax.imshow(np.ma.masked_invalid(data), cmap="Blues", aspect="auto",
                       vmin=0, vmax=1 if data is rate else max(1.0, np.nanmax(data)))
        ax.set_xticks(range(len(pred_labels)), pred_labels, rotation=50, ha="right", fontsize=small)
        ax.set_yticks(range(len(true_labels)), ylabels, fontsize=small)
        ax.set(title=name, xlabel="predicted class", ylabel="true class (items)")
        hi = np.nanmax(data) if np.isfinite(data).any() else 1
        for (i, j), v in np.ndenumerate(data):
            if np.isfinite(v) and v > 0:
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=small - 1,
                        color="white" if v > 0.55 * (1 if data is rate else hi) else "black")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(title or f"Confusion matrix of single-label test items (n = {n})")
    return fig


def plot_polyphony(
    polyphony: Mapping, ax: Axes | None = None,
    title: str = "F1 by polyphony (test mixes)",
) -> Figure:
    """Micro, macro and samples F1 per bucket of active classes; item counts under the bars."""
    fig, ax = _axes(ax, (8, 4))
    buckets = polyphony["buckets"]
    names = list(buckets)
    x = np.arange(len(names))
    keys = (("micro_f1", "micro F1"), ("macro_f1", "macro F1"), ("samples_f1", "samples F1"))
    width = 0.8 / len(keys)
    for k, (key, label) in enumerate(keys):
        vals = [buckets[b].get(key) for b in names]
        vals = [np.nan if v is None else v for v in vals]
        bars = ax.bar(x + (k - 1) * width, vals, width, label=label, color=COLORS[k])
        _bar_labels(ax, bars, "{:.2f}", 7)
    ax.set_xticks(x, [f"{b}\n(n={buckets[b]['n_items']})" for b in names])
    ax.set(title=title, xlabel="classes active in the segment", ylabel="F1", ylim=(0, 1.2))
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncols=3)
    return fig


def plot_pr_curves(
    y_true: np.ndarray, y_prob: np.ndarray, classes: Sequence[str],
    thresholds: Sequence[float] | None = None, ncols: int = 5,
    title: str = "Precision-recall curves per class (test)",
) -> Figure:
    """Small multiples, one precision-recall curve per class, with AP, support, the chance
    level (prevalence) and the operating point at the class's threshold."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y_true = np.asarray(y_true, dtype=np.int64)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    classes = list(classes)
    thr = np.full(len(classes), 0.5) if thresholds is None else np.asarray(thresholds, float)
    nrows = int(np.ceil(len(classes) / ncols))
    fig, grid = _new((2.4 * ncols, 2.3 * nrows + 0.4), nrows, ncols, sharex=True, sharey=True)
    for k, ax in enumerate(grid.ravel()):
        if k >= len(classes):
            ax.set_axis_off()
            continue
        y, p, n_pos = y_true[:, k], y_prob[:, k], int(y_true[:, k].sum())
        if n_pos == 0:
            ax.text(0.5, 0.5, "no positives\nin test", ha="center", va="center", fontsize=8)
            ax.set_title(f"{classes[k]}", fontsize=9)
        else:
            prec, rec, _ = precision_recall_curve(y, p)
            ax.step(rec, prec, where="post", color=COLORS[0], lw=1.4)
            ax.axhline(n_pos / len(y), color="grey", ls=":", lw=1)
            pred = p >= thr[k]
            tp = int((pred & (y == 1)).sum())
            op_p = tp / pred.sum() if pred.sum() else 1.0
            ax.plot(tp / n_pos, op_p, "o", color=COLORS[3], ms=5)
            ap = average_precision_score(y, p)
            ax.set_title(f"{classes[k]}\nAP {ap:.2f}, n={n_pos}", fontsize=9)
        ax.set(xlim=(0, 1.02), ylim=(0, 1.05))
        ax.grid(alpha=0.3)
        if k % ncols == 0:
            ax.set_ylabel("precision")
        if k + ncols >= len(classes):  # lowest drawn panel of its column
            ax.set_xlabel("recall")
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.suptitle(f"{title}  (red dot: operating point at the threshold; dotted: chance)")
    return fig
