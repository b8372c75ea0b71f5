"""The reference study's CNN (after Han et al., 2016), faithfully in PyTorch."""

from __future__ import annotations

import torch
from torch import nn


class CeilMaxPool2d(nn.MaxPool2d):
    """3x3/stride-3 max pooling that rounds up like Keras `padding='same'` (128 -> 43)."""

    def __init__(self, size: int = 3) -> None:
        super().__init__(kernel_size=size, stride=size, ceil_mode=True)


class ReferenceCNN(nn.Module):
    """4 x (Conv 3x3 + ReLU [+ MaxPool 3x3] + Dropout 0.25) -> GAP -> Dense 512 -> Dense C.

    With 17 classes: 528,145 parameters. Returns logits; apply a sigmoid for probabilities.
    """

    def __init__(self, n_classes: int = 17, n_mels: int = 128) -> None:
        super().__init__()
        chans = [1, 32, 64, 128, 256]
        layers: list[nn.Module] = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1), nn.ReLU()]
            if i < 3:
                layers.append(CeilMaxPool2d(3))
            layers.append(nn.Dropout(0.25))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(256, 512), nn.ReLU(), nn.Dropout(0.3), nn.Linear(512, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.head(h.mean(dim=(2, 3)))
