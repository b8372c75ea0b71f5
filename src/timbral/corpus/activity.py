"""Stem activity: the real activation curves that gate the notes, the excerpt they choose,
generated activity for tracks without a curve, and MedleyDB's activation-confidence algorithm
applied to the rendered stems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.signal

from timbral.data.medleydb import Activations

SR = 44100
WIN = 4096
HOP = WIN // 2
FRAME = HOP / SR  # seconds between activation frames
THRESHOLD = 0.5
# Probability that a stem of each role plays in a four-bar section (generated activity).
ROLE_ACTIVITY = {"kit": 0.85, "drum_machine": 0.85, "bass": 0.85, "system": 0.95, "comp": 0.75,
                 "pad": 0.7, "melody": 0.65, "speech": 0.5, "rap": 0.7}


def frames_for(duration: float) -> int:
    """Number of activation frames MedleyDB's algorithm yields for `duration` seconds."""
    n = int(round(duration * SR)) + WIN - HOP
    return 1 + (int(WIN * np.ceil(n / WIN)) - WIN) // HOP


def choose_excerpt(acts: Activations, stem_ids: list[str], duration: float,
                   min_active: float = 1.0) -> float:
    """Start (s) of the `duration`-long window where the most stems play at least `min_active`
    seconds, ties broken by total activity, then by the earliest start."""
    cols = [acts.by_stem[s] >= THRESHOLD for s in stem_ids if s in acts.by_stem]
    if not cols:
        return 0.0
    active = np.stack(cols).astype(np.float32)
    hop = acts.hop_seconds
    width = max(1, int(round(duration / hop)))
    if active.shape[1] <= width:
        return 0.0
    csum = np.concatenate([np.zeros((active.shape[0], 1)), np.cumsum(active, axis=1)], axis=1)
    per_stem = (csum[:, width:] - csum[:, :-width]) * hop  # seconds active per window start
    step = max(1, int(round(1.0 / hop)))
    starts = np.arange(0, per_stem.shape[1], step)
    playing = (per_stem[:, starts] >= min_active).sum(axis=0)
    total = per_stem[:, starts].sum(axis=0)
    best = np.lexsort((starts, -total, -playing))[0]
    return float(acts.times[0] + starts[best] * hop)


def real_masks(acts: Activations, stem_ids: list[str], start: float, duration: float) -> dict[str, np.ndarray]:
    """Per stem, active frames (confidence >= 0.5) of the excerpt on the activation frame grid."""
    n = frames_for(duration)
    t = start + np.arange(n) * FRAME
    out = {}
    for sid in stem_ids:
        if sid in acts.by_stem:
            conf = np.interp(t, acts.times, acts.by_stem[sid], left=0.0, right=0.0)
            out[sid] = conf >= THRESHOLD
    return out


def real_curves(acts: Activations, stem_ids: list[str], start: float, duration: float) -> dict[str, np.ndarray]:
    """The real confidence curves of the excerpt, on the activation frame grid."""
    n = frames_for(duration)
    t = start + np.arange(n) * FRAME
    return {s: np.interp(t, acts.times, acts.by_stem[s], left=0.0, right=0.0)
            for s in stem_ids if s in acts.by_stem}


def generated_mask(rng: np.random.Generator, role: str, bar: float, duration: float) -> np.ndarray:
    """Plausible activity for a track without a real curve: four-bar sections switched on and off."""
    n = frames_for(duration)
    t = np.arange(n) * FRAME
    section = 4 * bar
    k = max(1, int(np.ceil(duration / section)))
    on = rng.random(k) < ROLE_ACTIVITY.get(role, 0.6)
    if not on.any():  # every stem plays somewhere in the excerpt
        on[int(rng.integers(k))] = True
    return on[np.minimum((t // section).astype(int), k - 1)]


def dilate(mask: np.ndarray, frames: int) -> np.ndarray:
    """Extend active runs by `frames` on both sides."""
    if frames <= 0 or not mask.any():
        return mask
    kernel = np.ones(2 * frames + 1)
    return np.convolve(mask.astype(float), kernel, mode="same") > 0


def run_ends(mask: np.ndarray) -> np.ndarray:
    """For every frame, the index one past the end of the active run it is in (or itself)."""
    ends = np.arange(len(mask)) + 1
    for i in range(len(mask) - 2, -1, -1):
        if mask[i] and mask[i + 1]:
            ends[i] = ends[i + 1]
    return ends


def gate_notes(notes: list, mask: np.ndarray, tail: float = 0.05) -> list:
    """Keep notes that start in an active frame; cut each at the end of its active run."""
    if not len(mask):
        return []
    ends = run_ends(mask) * FRAME
    out = []
    for n in notes:
        i = min(int(round(n.start / FRAME)), len(mask) - 1)
        if mask[i]:
            dur = min(n.dur, ends[i] - n.start + tail)
            if dur > 0.01:
                out.append(n._replace(dur=dur))
    return out


def gate_signal(mask: np.ndarray, n_samples: int) -> np.ndarray:
    """A sample-rate gain curve (0..1) from frame activity, with one-frame linear ramps."""
    t = np.arange(n_samples) / SR
    return np.interp(t, np.arange(len(mask)) * FRAME, mask.astype(np.float32)).astype(np.float32)


def _envelope(y: np.ndarray, window: np.ndarray) -> np.ndarray:
    y = np.concatenate([np.zeros(WIN - HOP, dtype=np.float64), np.asarray(y, dtype=np.float64)])
    y = np.pad(y, (0, int(WIN * np.ceil(len(y) / WIN)) - len(y)))
    frames = np.lib.stride_tricks.sliding_window_view(y, WIN)[::HOP]
    return (np.sqrt(np.maximum(frames, 0.0)) * window).mean(axis=1)


def activation_confidence(stems: list[np.ndarray], theta: float = 0.15, slope: float = 20.0,
                          cutoff: float = 0.075, floor: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """MedleyDB's activation confidence of mono 44.1 kHz stems: (times, C[stem, frame]).

    Per stem, the Hann-windowed mean of the square root of the half-wave-rectified signal
    (window 4096, hop 2048); all stems scaled by (number of stems / peak of their sum); frames
    whose summed energy is below `floor` zeroed; a zero-phase 2nd-order Butterworth low-pass;
    then C = 1 - 1 / (1 + exp(slope * (H - theta))).
    """
    window = scipy.signal.windows.hann(WIN + 2)[1:-1]
    energy = np.stack([_envelope(y, window) for y in stems])
    total = energy.sum(axis=0)
    peak = float(total.max())
    if peak > 0:
        energy = len(stems) * energy / peak
    energy[:, total < floor] = 0.0
    b, a = scipy.signal.butter(2, cutoff, "low")
    if energy.shape[1] > 3 * max(len(a), len(b)):
        energy = scipy.signal.filtfilt(b, a, energy, axis=1)
    conf = 1.0 - 1.0 / (1.0 + np.exp(slope * (energy - theta)))
    times = np.arange(energy.shape[1]) * FRAME
    return times, conf


def format_lab(times: np.ndarray, conf: np.ndarray, stem_ids: list[str]) -> str:
    """The ACTIVATION_CONF text: a `time,S01,...` header and one row per frame, 4 decimals."""
    lines = ["time," + ",".join(stem_ids)]
    table = np.column_stack([times, conf.T])
    lines += [",".join(f"{v:.4f}" for v in row) for row in table]
    return "\n".join(lines) + "\n"


def write_lab(path: Path, times: np.ndarray, conf: np.ndarray, stem_ids: list[str]) -> None:
    Path(path).write_text(format_lab(times, conf, stem_ids), encoding="utf-8")


def agreement(real: np.ndarray, computed: np.ndarray) -> float:
    """Fraction of frames where both curves make the same active/inactive decision."""
    n = min(len(real), len(computed))
    if n == 0:
        return float("nan")
    return float(np.mean((real[:n] >= THRESHOLD) == (computed[:n] >= THRESHOLD)))
