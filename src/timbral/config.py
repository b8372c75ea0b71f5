"""Shared settings: frozen dataclasses whose defaults are the reference study's values.

Every cache key and model artifact records these, so a changed setting never reuses a stale
result. Stage-specific settings live beside their stage; this module holds what several stages
share (features and segments are used by training *and* inference).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from timbral.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class FeatureConfig:
    """Log-mel settings (reference: 22,050 Hz mono, n_fft 2048, hop 512, 128 mels, 15 s)."""

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    segment_seconds: float = 15.0
    top_db: float = 80.0  # librosa.power_to_db default

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sr))

    @property
    def n_frames(self) -> int:
        """Frames of one segment with librosa's centred STFT: 15 s -> 646."""
        return 1 + self.segment_samples // self.hop_length


@dataclass(frozen=True)
class SegmentConfig:
    """Where a segment starts in each file.

    mix_strategy: "activity" (window with the most stems active, from the activation
    annotations, falling back to "pitch" then "energy"), "pitch" (the reference rule),
    "energy" (highest-RMS window) or "start".
    stem_strategy: "energy" (highest-RMS window) or "threshold" (the reference rule: first
    sample above `amplitude_threshold` after peak normalisation).
    """

    mix_strategy: str = "activity"
    stem_strategy: str = "energy"
    activity_threshold: float = 0.5
    amplitude_threshold: float = 0.5
    silence_peak: float = 1e-4  # a file whose peak is below this is silent and skipped

    def __post_init__(self) -> None:
        if self.mix_strategy not in {"activity", "pitch", "energy", "start"}:
            raise ConfigError(f"segment.mix_strategy: unknown value {self.mix_strategy!r}")
        if self.stem_strategy not in {"energy", "threshold"}:
            raise ConfigError(f"segment.stem_strategy: unknown value {self.stem_strategy!r}")


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def from_dict(cls: type[T], data: dict | None, where: str = "") -> T:
    """Build a dataclass from a dict, refusing unknown keys with a clear message."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown setting(s) {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def stable_hash(*parts: Any, length: int = 16) -> str:
    """A hash of JSON-able parts (dataclasses allowed) that is stable across runs and machines."""

    def norm(x: Any) -> Any:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {"__type__": type(x).__name__, **dataclasses.asdict(x)}
        return x

    blob = json.dumps([norm(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]
