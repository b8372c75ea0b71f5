"""A set of model inputs: cached log-mel files with their multi-hot labels.

This is what training, balancing and evaluation pass around. Features are read lazily
(memory-mapped `.npy`), so a set never needs to fit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def load_feature(path: str | Path) -> np.ndarray:
    """One cached log-mel as float32 (n_mels, frames); stored as float16 `.npy`."""
    return np.asarray(np.load(path, mmap_mode="r"), dtype=np.float32)


@dataclass
class ClipSet:
    """Feature files `paths[i]` with labels `y[i]` (multi-hot over `classes`)."""

    paths: list[str]
    y: np.ndarray
    classes: list[str]
    item_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y, dtype=np.float32).reshape(len(self.paths), len(self.classes))
        if not self.item_ids:
            self.item_ids = [Path(p).stem for p in self.paths]

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, i: int) -> np.ndarray:
        return load_feature(self.paths[i])

    def subset(self, index) -> ClipSet:
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return ClipSet([self.paths[i] for i in idx], self.y[idx], self.classes,
                       [self.item_ids[i] for i in idx])

    def concat(self, other: ClipSet) -> ClipSet:
        return ClipSet(self.paths + other.paths, np.concatenate([self.y, other.y]), self.classes,
                       self.item_ids + other.item_ids)
