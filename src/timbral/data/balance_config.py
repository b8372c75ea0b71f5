"""Settings of the balancing stage (defaults: the reference's augmentation values)."""

from __future__ import annotations

from dataclasses import dataclass

from timbral.errors import ConfigError

AUGMENT_FIELDS = ("p_stretch", "stretch_range", "p_shift", "shift_semitones")


@dataclass(frozen=True)
class BalanceConfig:
    """Balancing settings; the defaults are the reference's augmentation values.

    target: "max" (every class up to the largest class count) or a count.
    reextract_prob: share of new single-label examples made by re-extraction (the rest are
    spectrogram warps). remix_per_track: stem remixes per training track with at least
    remix_min_stems stems. max_new: cap on all new examples (remixes get at most half).
    active_db / active_share: a frame is active within active_db of the file's loudest
    frame; a window (or a stem in a remix window) is active if that share of frames is.
    """

    enabled: bool = True
    target: str | int = "max"
    reextract_prob: float = 0.5
    p_stretch: float = 0.75
    stretch_range: tuple[float, float] = (0.5, 1.5)
    p_shift: float = 0.75
    shift_semitones: float = 12.0
    remix_per_track: int = 2
    remix_min_stems: int = 2
    remix_gain_db: tuple[float, float] = (-6.0, 0.0)
    remix_tries: int = 4
    active_db: float = -30.0
    active_share: float = 0.25
    seed: int = 0
    max_new: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stretch_range", tuple(self.stretch_range))
        object.__setattr__(self, "remix_gain_db", tuple(self.remix_gain_db))
        bad = _config_problem(self)
        if bad:
            raise ConfigError(f"balance.{bad}")


def _config_problem(c: BalanceConfig) -> str | None:
    if c.target != "max" and not (isinstance(c.target, int) and c.target >= 1):
        return f"target: expected 'max' or a positive count, got {c.target!r}"
    for name in ("reextract_prob", "p_stretch", "p_shift", "active_share"):
        if not 0.0 <= getattr(c, name) <= 1.0:
            return f"{name}: must lie in [0, 1], got {getattr(c, name)!r}"
    if len(c.stretch_range) != 2 or not 0 < c.stretch_range[0] <= c.stretch_range[1]:
        return f"stretch_range: expected (low, high) with 0 < low <= high, got {c.stretch_range!r}"
    if len(c.remix_gain_db) != 2 or c.remix_gain_db[0] > c.remix_gain_db[1]:
        return f"remix_gain_db: expected (low, high) with low <= high, got {c.remix_gain_db!r}"
    if c.shift_semitones < 0:
        return f"shift_semitones: must be >= 0, got {c.shift_semitones!r}"
    if c.remix_per_track < 0 or c.remix_min_stems < 1 or c.remix_tries < 1:
        return "remix_per_track must be >= 0, remix_min_stems and remix_tries >= 1"
    if c.max_new is not None and c.max_new < 0:
        return f"max_new: must be >= 0 or unset, got {c.max_new!r}"
    return None
