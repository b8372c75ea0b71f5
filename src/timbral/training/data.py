"""Feeding a ClipSet to torch: lazily loaded (memory-mapped) log-mels with their labels."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from timbral.data.clips import ClipSet
from timbral.errors import DatasetError


class ClipDataset(Dataset):
    """Item i: (log-mel (1, n_mels, frames) float32, multi-hot labels (C,) float32).

    Every clip must have the `shape` (n_mels, frames) the model is trained for; a clip that does
    not is reported by file name.
    """

    def __init__(self, clips: ClipSet, shape: tuple[int, int]) -> None:
        self.clips = clips
        self.shape = tuple(shape)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            x = self.clips.load(i)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.clips.paths[i]}: unreadable feature file ({exc})") from None
        if x.shape != self.shape:
            raise DatasetError(
                f"{self.clips.paths[i]}: log-mel shape {x.shape}, expected {self.shape} "
                "(features extracted with other settings?)"
            )
        return torch.from_numpy(np.ascontiguousarray(x))[None], torch.from_numpy(self.clips.y[i])


def check_sets(train: ClipSet, val: ClipSet) -> None:
    """Refuse empty sets and class lists that disagree."""
    if len(train) == 0:
        raise DatasetError("training set is empty")
    if len(val) == 0:
        raise DatasetError("validation set is empty (early stopping needs it)")
    if list(train.classes) != list(val.classes):
        raise DatasetError("training and validation sets have different class lists")


def make_loader(clips: ClipSet, shape: tuple[int, int], batch_size: int, shuffle: bool,
                num_workers: int = 0) -> DataLoader:
    return DataLoader(
        ClipDataset(clips, shape), batch_size=batch_size, shuffle=shuffle,
        num_workers=num_workers, persistent_workers=num_workers > 0,
    )
