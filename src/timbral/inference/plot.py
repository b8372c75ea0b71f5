"""Timeline figure of a tagged recording: the waveform, and a classes x time heatmap under it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timbral.inference.result import TagResult


def _cell_edges(result: TagResult) -> np.ndarray:
    """Time edges of one heatmap column per window, centred on the window, spanning the file."""
    centres = (np.asarray(result.starts) + np.asarray(result.ends)) / 2
    mids = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[0.0], mids, [max(result.duration, centres[-1])]])


def plot_timeline(result: TagResult, path: str | Path | None = None, ax=None):
    """Draw the timeline; with `path`, save a PNG (atomically) and close the figure.

    `ax`: an optional pair of axes (waveform, heatmap) to draw into. Returns the figure."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    n = len(result.classes)
    if ax is None:
        fig = Figure(figsize=(11, 1.8 + 0.28 * n))
        ax_w, ax_h = fig.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, max(2.0, 0.28 * n)]}
        )
    else:
        ax_w, ax_h = ax
        fig = ax_w.figure
    duration = max(float(result.duration), 1e-6)

    env = result.envelope if result.envelope is not None else np.zeros(1)
    t = np.linspace(0, duration, len(env) + 1)
    ax_w.fill_between(t, np.r_[env, env[-1:]], -np.r_[env, env[-1:]], step="post",
                      color="0.35", linewidth=0)
    ax_w.set_ylim(-1.05 * max(float(env.max()), 1e-3), 1.05 * max(float(env.max()), 1e-3))
    ax_w.set_ylabel("amplitude")
    ax_w.set_yticks([])
    present = result.instruments
    title = f"{Path(result.file).name}: " + (", ".join(present) if present else "no instrument")
    flags = [f for f, on in (("padded", result.padded), ("silent", result.silent)) if on]
    ax_w.set_title(title + (f"  [{', '.join(flags)}]" if flags else ""), loc="left", fontsize=10)

    mesh = ax_h.pcolormesh(_cell_edges(result), np.arange(n + 1),
                           np.asarray(result.window_probabilities).T, cmap="magma",
                           vmin=0.0, vmax=1.0, shading="flat")
    labels = [f"{c} {p:.2f}" for c, p in zip(result.classes, result.probabilities)]
    ax_h.set_yticks(np.arange(n) + 0.5, labels, fontsize=8)
    for tick, on in zip(ax_h.get_yticklabels(), result.present):
        tick.set_fontweight("bold" if on else "normal")
        tick.set_color("black" if on else "0.45")
    for i, name in enumerate(result.classes):
        for s, e in result.active_ranges(name):
            ax_h.hlines(i + 0.85, s, e, color="#22d3ee", linewidth=2.5)
    ax_h.invert_yaxis()
    ax_h.set_xlim(0, duration)
    ax_h.set_xlabel("time (s)    cyan bar: window at or above the class threshold;"
                    "  bold: present in the recording")
    ax_h.set_ylabel(f"class ({result.aggregate} prob.)")
    fig.colorbar(mesh, ax=[ax_w, ax_h], label="probability", fraction=0.025, pad=0.01)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.png")
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        tmp.replace(path)
    return fig
