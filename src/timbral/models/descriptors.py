"""The descriptor baseline: MFCC and spectral centroid/contrast/flatness statistics, then a
one-vs-rest logistic regression, as one nn.Module on the same log-mel input as the CNNs.

The descriptors are computed from the log-mel (dB) in torch, so every model shares one input
and one artifact format. Centroid, contrast and flatness are *mel-band* versions of the usual
STFT-bin descriptors:
- MFCC: the orthonormal DCT-II of the log-mel along the mel axis (what
  `librosa.feature.mfcc(S=log_mel)` computes), first `n_mfcc` coefficients;
- centroid: the power-weighted mean of the mel bands' centre frequencies, in kHz;
- flatness: geometric over arithmetic mean of the mel-band powers;
- contrast: per octave sub-band (edges fmin * 2^k, as in librosa), the mean of the loudest
  `quantile` of its mel bands minus the mean of the quietest, in dB.
Each per-frame descriptor is summarised over time by its mean and standard deviation.
`train_baseline` (timbral.training) fits scikit-learn on these features and copies the
standardisation and the logistic-regression weights into this module.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def dct_matrix(n_mels: int, n_mfcc: int) -> torch.Tensor:
    """(n_mfcc, n_mels) orthonormal DCT-II matrix (scipy's `dct(type=2, norm='ortho')`)."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64)[:, None]
    basis = torch.cos(math.pi * k * (2 * n + 1) / (2 * n_mels)) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis.float()


def octave_groups(centres_hz: np.ndarray, fmin: float, n_bands: int) -> list[np.ndarray]:
    """Mel-band indices of each octave sub-band [0, fmin), [fmin, 2 fmin), ... [.., inf);
    empty sub-bands are dropped."""
    edges = [0.0] + [fmin * 2.0**k for k in range(n_bands)] + [np.inf]
    groups = [np.flatnonzero((centres_hz >= lo) & (centres_hz < hi))
              for lo, hi in zip(edges[:-1], edges[1:])]
    return [g for g in groups if len(g)]


class DescriptorFeatures(nn.Module):
    """log-mel (B, 1, n_mels, T) in dB -> (B, n_features) descriptor statistics."""

    def __init__(
        self, n_mels: int = 128, sr: int = 22050, n_mfcc: int = 20, n_bands: int = 6,
        fmin: float = 200.0, quantile: float = 0.2,
    ) -> None:
        super().__init__()
        import librosa  # here, so importing the models stays light

        centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmin=0.0, fmax=sr / 2)[1:-1]
        self.register_buffer("dct", dct_matrix(n_mels, n_mfcc), persistent=False)
        self.register_buffer("centres_khz", torch.tensor(centres / 1000.0, dtype=torch.float32),
                             persistent=False)
        groups = octave_groups(centres, fmin, n_bands)
        self.groups = [(int(g[0]), len(g), max(1, int(round(quantile * len(g))))) for g in groups]
        self.n_per_frame = n_mfcc + 2 + len(self.groups)
        self.n_features = 2 * self.n_per_frame

    def per_frame(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_per_frame, T): MFCCs, centroid, flatness, contrast per octave sub-band."""
        db = x[:, 0]  # (B, M, T)
        mfcc = torch.einsum("km,bmt->bkt", self.dct, db)
        log_power = db * (math.log(10.0) / 10.0)  # natural log of the mel power (ref = max)
        power = torch.exp(log_power)
        total = power.sum(dim=1, keepdim=True)
        centroid = (self.centres_khz[None, :, None] * power).sum(dim=1, keepdim=True) / total
        flatness = torch.exp(log_power.mean(dim=1, keepdim=True)) / power.mean(dim=1, keepdim=True)
        contrast = []
        for start, size, k in self.groups:
            band = db[:, start:start + size]
            peak = torch.topk(band, k, dim=1).values.mean(dim=1)
            valley = -torch.topk(-band, k, dim=1).values.mean(dim=1)
            contrast.append(peak - valley)
        return torch.cat([mfcc, centroid, flatness, torch.stack(contrast, dim=1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = self.per_frame(x)
        mean = frames.mean(dim=-1)
        std = (frames - mean[..., None]).pow(2).mean(dim=-1).sqrt()
        return torch.cat([mean, std], dim=1)


class DescriptorLogReg(nn.Module):
    """Descriptor statistics -> standardise -> linear layer (one-vs-rest logistic regression).

    A fresh module predicts nothing useful: its weights come from `train_baseline`.
    """

    def __init__(self, n_classes: int = 17, n_mels: int = 128, sr: int = 22050,
                 n_mfcc: int = 20, n_bands: int = 6, fmin: float = 200.0,
                 quantile: float = 0.2) -> None:
        super().__init__()
        self.features = DescriptorFeatures(n_mels, sr, n_mfcc, n_bands, fmin, quantile)
        n = self.features.n_features
        self.register_buffer("feature_mean", torch.zeros(n))
        self.register_buffer("feature_scale", torch.ones(n))
        self.linear = nn.Linear(n, n_classes)

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.standardise(self.features(x)))
