"""The feature front end of inference: exactly what training does to a segment.

Each window is peak-normalised (`timbral.data.audio.peak_normalize`) and turned into a log-mel
in dB with `power_to_db(ref=max)` per window (`timbral.data.features`), giving the model's
(batch, 1, n_mels, frames) input.
"""

from __future__ import annotations

import numpy as np
import torch

from timbral.config import FeatureConfig
from timbral.data.features import LogMel


def peak_normalize_batch(windows: np.ndarray) -> np.ndarray:
    """Divide each row by its peak |sample| (rows that are all zero stay zero)."""
    peak = np.max(np.abs(windows), axis=1, keepdims=True)
    return np.divide(windows, peak, out=windows.copy(), where=peak > 0).astype(np.float32, copy=False)


class FrontEnd:
    """(B, samples) mono windows at `cfg.sr` -> (B, 1, n_mels, frames) float32 log-mel dB.

    Windows go through the STFT `chunk` at a time: its complex intermediates are ~40x the size
    of the log-mel, and smaller chunks cost no speed."""

    def __init__(self, cfg: FeatureConfig, chunk: int = 4) -> None:
        self.cfg, self.chunk = cfg, max(1, int(chunk))
        self.logmel = LogMel(cfg).eval()

    def __call__(self, windows: np.ndarray) -> torch.Tensor:
        y = torch.from_numpy(peak_normalize_batch(np.asarray(windows, dtype=np.float32)))
        with torch.inference_mode():
            parts = [self.logmel(y[i:i + self.chunk]) for i in range(0, len(y), self.chunk)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)
