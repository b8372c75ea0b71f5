"""A small, fast CNN for tagging: batch norm, early downsampling, frequency pooling, and
per-frame class logits pooled over time (so it also yields per-frame activity).

Choices, measured with `benchmarks/train.py` (speed) and `benchmarks/improved_model.py`
(validation AUC against the reference CNN and ablations, on the rendered demo corpus and on
synthetic instruments):
- the input dB values are scaled to about [-2, 2] (the reference feeds raw dB); a learned
  per-mel-band normalisation (`band_norm=True`) was tried and did worse;
- batch norm after every convolution;
- the first convolution has stride 2 and is followed by a 2 x 2 pool: the reference spends
  most of its time in its full-resolution 32-channel layers, which are memory-bound on a CPU;
  here only the 1-channel input is ever touched at full resolution;
- after the convolutions, frequency is pooled (max + mean) but time is kept: a 1 x 1
  convolution gives per-frame class logits and the clip logit is their mean over time.
  Attention pooling over time (`attention=True`: a softmax-weighted mean) was tried and did
  slightly worse. `frame_activity` exposes the per-frame probabilities, one frame per 8 input
  frames (~186 ms at the reference settings).
Every op exports to ONNX (opset 17).
"""

from __future__ import annotations

import torch
from torch import nn

TIME_STRIDE = 8  # input frames per output frame of `frame_logits`


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class ImprovedCNN(nn.Module):
    """log-mel (B, 1, n_mels, T) in dB -> clip logits (B, C); any T >= 1.

    `channels`: widths of the four convolutions. `band_norm=True` standardises each mel band
    with a batch norm instead of the fixed (x + 40) / 20 scaling; `attention=True` pools the
    frame logits with learned softmax weights over time instead of their plain mean. With the
    defaults and 17 classes it has 99,585 parameters (the reference CNN: 528,145).
    """

    def __init__(
        self,
        n_classes: int = 17,
        n_mels: int = 128,
        channels: tuple[int, int, int, int] = (16, 32, 64, 128),
        dropout: float = 0.3,
        band_norm: bool = False,
        attention: bool = False,
    ) -> None:
        super().__init__()
        c0, c1, c2, c3 = (int(c) for c in channels)
        self.n_classes = n_classes
        self.attention = attention
        self.input_norm = nn.BatchNorm2d(n_mels) if band_norm else None
        self.features = nn.Sequential(
            *_conv_bn_relu(1, c0, stride=2), nn.MaxPool2d(2, ceil_mode=True),       # /4, /4
            *_conv_bn_relu(c0, c1), nn.MaxPool2d(2, ceil_mode=True),                # /8, /8
            *_conv_bn_relu(c1, c2), nn.MaxPool2d((2, 1), ceil_mode=True),           # /16, /8
            *_conv_bn_relu(c2, c3),
        )
        self.dropout = nn.Dropout(dropout)
        self.frame_head = nn.Conv1d(c3, n_classes, 1)
        self.attention_head = nn.Conv1d(c3, n_classes, 1) if attention else None

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, c3, T') frame embeddings."""
        if self.input_norm is not None:
            x = self.input_norm(x.transpose(1, 2)).transpose(1, 2)
        else:
            x = (x + 40.0) / 20.0
        # channels-last makes these convolutions several times faster on CPU
        h = self.features(x.contiguous(memory_format=torch.channels_last))
        return self.dropout(h.amax(dim=2) + h.mean(dim=2))  # pool frequency, keep time

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._embed(x)
        frames = self.frame_head(h)
        if self.attention_head is None:
            return frames.mean(dim=-1)
        weights = torch.softmax(self.attention_head(h), dim=-1)
        return (weights * frames).sum(dim=-1)

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame class logits (B, C, ceil(T / 8)); a sigmoid gives per-frame activity."""
        return self.frame_head(self._embed(x))

    def frame_activity(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame class probabilities (B, C, ceil(T / 8))."""
        return torch.sigmoid(self.frame_logits(x))
