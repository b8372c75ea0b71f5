"""Spectrogram warps of the reference augmentation: time-stretch and mel-axis pitch-shift.

Both interpolate linearly (`scipy.ndimage.zoom`, order 1) and crop or pad back to the input
shape. Padding is the spectrogram's floor (its quietest dB value): the reference padded with
0, which in `power_to_db(ref=max)` dB is the *loudest* level and adds a loud band.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from timbral.data.balance_config import BalanceConfig
from timbral.errors import ConfigError


def spectrogram_floor(S: np.ndarray) -> float:
    """The quietest value of a log-mel (its dB floor); padding uses it, not 0 dB (= loudest)."""
    return float(np.min(S)) if np.size(S) else 0.0


def fit_shape(S: np.ndarray, shape: tuple[int, int], fill: float) -> np.ndarray:
    """Crop `S` to `shape` (keeping the start of each axis) or pad its end with `fill`."""
    out = np.full(shape, fill, dtype=S.dtype)
    rows, cols = min(shape[0], S.shape[0]), min(shape[1], S.shape[1])
    out[:rows, :cols] = S[:rows, :cols]
    return out


def time_stretch(S: np.ndarray, rate: float, fill: float | None = None) -> np.ndarray:
    """Warp along time by `rate` (> 1 lengthens: slower) with linear interpolation, same shape.

    The reference padded with 0, which is the loudest level in `power_to_db(ref=max)` dB;
    here the padding is the spectrogram's floor unless `fill` is given.
    """
    if not rate > 0:
        raise ConfigError(f"time_stretch: rate must be > 0, got {rate!r}")
    fill = spectrogram_floor(S) if fill is None else fill
    return fit_shape(ndimage.zoom(S, (1.0, rate), order=1), S.shape, fill)


def pitch_shift(S: np.ndarray, semitones: float, fill: float | None = None) -> np.ndarray:
    """Warp along the mel axis by 2**(semitones/12) (linear interpolation), same shape.

    As in the reference this scales mel-bin indices, which only approximates a transposition
    (the mel scale is not logarithmic in frequency). Bins shifted in are the floor.
    """
    fill = spectrogram_floor(S) if fill is None else fill
    return fit_shape(ndimage.zoom(S, (2.0 ** (semitones / 12.0), 1.0), order=1), S.shape, fill)


def augment_spectrogram(
    S: np.ndarray, rng: np.random.Generator, cfg: BalanceConfig = BalanceConfig(),
) -> tuple[np.ndarray, str]:
    """Randomly time-stretch (p_stretch) then pitch-shift (p_shift) `S`; returns (S', what).

    With neither drawn the copy is unchanged (as in the reference), described "unchanged".
    """
    S = np.asarray(S, dtype=np.float32)
    floor = spectrogram_floor(S)
    done = []
    if rng.random() < cfg.p_stretch:
        rate = float(rng.uniform(*cfg.stretch_range))
        S = time_stretch(S, rate, floor)
        done.append(f"time_stretch({rate:.2f})")
    if rng.random() < cfg.p_shift:
        semitones = float(rng.uniform(-cfg.shift_semitones, cfg.shift_semitones))
        S = pitch_shift(S, semitones, floor)
        done.append(f"pitch_shift({semitones:+.2f})")
    return S, " ".join(done) or "unchanged"
