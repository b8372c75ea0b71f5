"""Log-mel spectrograms with the reference settings (librosa is the reference)."""

from __future__ import annotations

import librosa
import numpy as np

from timbral.config import FeatureConfig


def logmel(y: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """(n_mels, frames) float32 log-mel in dB, `power_to_db(ref=max)`: 15 s -> 128 x 646."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=cfg.sr, n_fft=cfg.n_fft,
        hop_length=cfg.hop_length, n_mels=cfg.n_mels,
    )
    return librosa.power_to_db(mel, ref=np.max, top_db=cfg.top_db).astype(np.float32)
