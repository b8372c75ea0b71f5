"""Re-extraction: a new log-mel window from a file, at a random offset where it plays.

A frame is active when its RMS is within `active_db` of the file's loudest frame; a window is
active when at least `active_share` of its frames are. The reference picked a random sample
above an amplitude threshold; a window-level rule avoids windows that are mostly silence.
"""

from __future__ import annotations

import librosa
import numpy as np

from timbral.config import FeatureConfig
from timbral.data.audio import load_segment
from timbral.data.features import logmel
from timbral.errors import AudioError


def frame_activity(
    y: np.ndarray, frame_length: int, hop_length: int, active_db: float,
    ref: float | None = None,
) -> np.ndarray:
    """Boolean per frame (centred, one per `hop_length`): RMS >= ref * 10**(active_db / 20).

    `ref` defaults to the loudest frame of `y`; with a reference of 0 no frame is active.
    """
    if len(y) == 0:
        return np.zeros(0, dtype=bool)
    rms = librosa.feature.rms(y=np.asarray(y, dtype=np.float32), frame_length=frame_length,
                              hop_length=hop_length, center=True)[0]
    ref = float(rms.max()) if ref is None else float(ref)
    if ref <= 0:
        return np.zeros(len(rms), dtype=bool)
    return rms >= ref * 10.0 ** (active_db / 20.0)


def window_shares(active: np.ndarray, n_frames: int, n_starts: int) -> np.ndarray:
    """Share of active frames in each window `active[f : f + n_frames]`, f < n_starts."""
    csum = np.concatenate([[0], np.cumsum(active, dtype=np.int64)])
    first = np.arange(n_starts)
    last = np.minimum(first + n_frames, len(active))
    return (csum[last] - csum[first]) / float(max(n_frames, 1))


def active_window_starts(
    y: np.ndarray, cfg: FeatureConfig, active_db: float, active_share: float,
) -> np.ndarray:
    """Window starts (samples, multiples of hop) whose window is active.

    If no window reaches `active_share`, the windows with the highest share are returned; a
    file shorter than a segment has the single start 0.
    """
    n_starts = max(0, (len(y) - cfg.segment_samples) // cfg.hop_length) + 1
    active = frame_activity(y, cfg.n_fft, cfg.hop_length, active_db)
    shares = window_shares(active, cfg.n_frames, n_starts)
    good = np.flatnonzero(shares >= active_share)
    if good.size == 0:
        good = np.flatnonzero(shares == shares.max())
    return good * cfg.hop_length


def load_source(path: str, cfg: FeatureConfig) -> np.ndarray:
    """The whole file at `cfg.sr`, peak-normalised; AudioError if it is silent."""
    y = load_segment(path, 0.0, None, sr=cfg.sr, normalize=True)
    if not np.any(y):
        raise AudioError(f"{path}: silent, no active window to re-extract")
    return y


def candidate_starts(
    y: np.ndarray, cfg: FeatureConfig, active_db: float, active_share: float,
    avoid_start: float | None = None,
) -> np.ndarray:
    """Active window starts (samples), leaving out those closer than half a segment to
    `avoid_start` (the window already in the training set) when any other exists."""
    starts = active_window_starts(y, cfg, active_db, active_share)
    if avoid_start is not None and np.isfinite(avoid_start) and len(starts) > 1:
        far = np.abs(starts / cfg.sr - avoid_start) >= cfg.segment_seconds / 2
        if far.any():
            starts = starts[far]
    return starts


def window_at(
    y: np.ndarray, starts: np.ndarray, seed: int, cfg: FeatureConfig,
) -> tuple[np.ndarray, float]:
    """Log-mel of the window at a start drawn from `starts` with `seed`, and that start (s)."""
    start = int(np.random.default_rng(seed).choice(starts))
    window = y[start : start + cfg.segment_samples]
    window = np.pad(window, (0, cfg.segment_samples - len(window)))
    return logmel(window, cfg), start / cfg.sr


def reextract_clip(
    path: str,
    seed: int,
    cfg: FeatureConfig,
    active_db: float,
    active_share: float,
    avoid_start: float | None = None,
) -> tuple[np.ndarray, float]:
    """Log-mel (n_mels, n_frames) of a random active window of `path`, and its start (s)."""
    y = load_source(path, cfg)
    return window_at(y, candidate_starts(y, cfg, active_db, active_share, avoid_start), seed, cfg)
