"""Figures of the metadata analysis, drawn with matplotlib's object API (Agg, no pyplot state).

Each drawing function takes `ax=` and returns the Figure it drew on; `save_png` writes a
figure atomically. Figure size and font size follow the matrix size, so a 90 x 90 fine-label
matrix stays readable.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

DPI = 130
KIND_COLORS = {"mix": "#4c72b0", "stem": "#dd8452", "raw": "#55a868"}


def save_png(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write `fig` as PNG (temp name, then rename)."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return path


def heatmap_size(shape: tuple[int, int]) -> tuple[tuple[float, float], float]:
    """(figure size in inches, annotation font size) for a matrix of `shape` (rows, cols)."""
    rows, cols = shape
    big = max(rows, cols) > 25
    cell_w = 0.26 if cols > 25 else 0.62
    cell_h = 0.22 if rows > 25 else 0.42
    width = max(6.0, cols * cell_w + 3.6)
    height = max(4.0, rows * cell_h + 2.6)
    return (width, height), 5.5 if big else 8.0


def heatmap(matrix: pd.DataFrame, ax: Axes | None = None, title: str = "", log: bool = False,
            groups: list[str] | None = None, font: float | None = None,
            cmap: str = "Reds") -> Figure:
    """Colour cells by count and write every non-zero count in its cell.

    `groups` (one name per row, e.g. each fine label's class) draws a line between groups, on
    the columns too when they carry the same labels as the rows.
    """
    size, auto_font = heatmap_size(matrix.shape)
    font = font or auto_font
    if ax is None:
        fig = Figure(figsize=size, layout="constrained")
        ax = fig.subplots()
    values = matrix.to_numpy(dtype=float)
    top = max(float(values.max()) if values.size else 1.0, 1.0)
    norm = LogNorm(vmin=1, vmax=top) if log and top > 1 else Normalize(vmin=0, vmax=top)
    colours = colormaps[cmap].with_extremes(bad="white")
    shown = np.ma.masked_less_equal(values, 0)  # zero cells stay white
    image = ax.imshow(shown, cmap=colours, norm=norm, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(matrix.shape[1]), [str(c) for c in matrix.columns], rotation=60,
                  ha="right", rotation_mode="anchor", fontsize=font + 1.5)
    ax.set_yticks(range(matrix.shape[0]), [str(i) for i in matrix.index], fontsize=font + 1.5)
    ax.set_xticks(np.arange(-0.5, matrix.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0]), minor=True)
    ax.grid(which="minor", color="#e4e4e4", linewidth=0.3)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=2)
    if groups is not None:
        edges = [i + 0.5 for i in range(len(groups) - 1) if groups[i] != groups[i + 1]]
        square = list(matrix.columns) == list(matrix.index)
        for e in edges:
            ax.axhline(e, color="#555555", linewidth=0.6)
            if square:
                ax.axvline(e, color="#555555", linewidth=0.6)
    for (r, c), v in np.ndenumerate(values):
        if v > 0:
            dark = norm(v) > 0.6
            ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=font,
                    color="white" if dark else "black")
    if title:
        ax.set_title(title, fontsize=font + 4)
    cbar = ax.figure.colorbar(image, ax=ax, shrink=min(0.5, 12 / max(matrix.shape[0], 1) + 0.2),
                              pad=0.01, aspect=25)
    if log:
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= top]
        cbar.set_ticks(ticks, labels=[str(t) for t in ticks])
        cbar.ax.minorticks_off()
    cbar.ax.tick_params(labelsize=font + 1.5)
    cbar.set_label("songs (log scale)" if log else "songs", fontsize=font + 2)
    return ax.figure


def label_distribution(by_kind: pd.DataFrame, fine: pd.DataFrame, axes=None,
                       title: str = "") -> Figure:
    """Left: files per class, stacked by kind. Right: files per fine label, coloured by class."""
    n_fine = max(len(fine), 1)
    if axes is None:
        fig = Figure(figsize=(15, max(6.0, 0.16 * n_fine + 1.5)), layout="constrained")
        axes = fig.subplots(1, 2, width_ratios=[1, 1.15])
    ax, ax_fine = axes
    pos = np.arange(len(by_kind))[::-1]
    left = np.zeros(len(by_kind))
    for kind in by_kind.columns:
        vals = by_kind[kind].to_numpy()
        ax.barh(pos, vals, left=left, color=KIND_COLORS.get(kind), label=kind, height=0.7)
        left += vals
    for p, total in zip(pos, left):
        ax.text(total, p, f" {total:.0f}", va="center", fontsize=8)
    ax.set_yticks(pos, list(by_kind.index), fontsize=9)
    ax.set_xlabel("files")
    ax.set_xlim(0, max(left.max() if len(left) else 1, 1) * 1.15)
    ax.legend(title="kind", fontsize=8, loc="lower right")
    ax.set_title(title or "files per class", fontsize=11)

    classes = list(by_kind.index)
    palette = colormaps["tab20"]
    colour = {c: palette(i % 20) for i, c in enumerate(classes)}
    fpos = np.arange(len(fine))[::-1]
    counts = fine["count"].to_numpy() if len(fine) else np.zeros(0)
    ax_fine.barh(fpos, counts, color=[colour.get(c, "grey") for c in fine.get("class", [])],
                 height=0.75)
    for p, v in zip(fpos, counts):
        ax_fine.text(v, p, f" {v:.0f}", va="center", fontsize=6)
    ax_fine.set_yticks(fpos, list(fine.get("label", [])), fontsize=6.5)
    ax_fine.set_ylim(-0.6, n_fine - 0.4)
    ax_fine.set_xscale("log")
    ax_fine.set_xlim(0.8, max(counts.max() if len(counts) else 1, 1) * 2.5)
    ax_fine.set_xlabel("files (log scale)")
    ax_fine.set_title("files per fine label (colour: class)", fontsize=11)
    return ax.figure
