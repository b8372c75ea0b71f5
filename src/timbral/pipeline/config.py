"""One configuration for the whole study: presets plus an optional YAML override file.

Defaults follow the reference study (15 s segments, n_fft 2048, hop 512, 128 mels, Adam 3e-4,
batch 32, up to 300 epochs with patience 50, 60/24/16 split). Presets shrink what a 2-core
machine cannot afford; `full` is the reference configuration.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from timbral.config import FeatureConfig, SegmentConfig, from_dict
from timbral.errors import ConfigError

MODEL_NAMES = ("reference_cnn", "improved_cnn", "descriptor_logreg")

PRESETS: dict[str, dict] = {
    "tiny": {
        "corpus": {"preset": "tiny"},
        "feature": {"segment_seconds": 4.0},
        "train": {"max_epochs": 2, "patience": 2, "batch_size": 16},
        "balance": {"max_new": 40, "remix_per_track": 1},
        "unseen": {"enabled": True, "max_tracks": 2},
    },
    "demo": {
        "corpus": {"preset": "demo"},
        "feature": {"segment_seconds": 5.0},
        "train": {"max_epochs": 8, "patience": 3},
        "train_by_model": {"improved_cnn": {"max_epochs": 12, "patience": 4},
                           "reference_cnn": {"max_epochs": 6, "patience": 6}},
        "balance": {"max_new": 600, "remix_per_track": 2},
        "unseen": {"enabled": True, "max_tracks": 12},
    },
    "full": {
        "corpus": {"preset": "full"},
        "unseen": {"enabled": True, "max_tracks": None},
    },
}


@dataclass
class PipelineConfig:
    """Every setting of one run, grouped by stage (each group is a plain dict or dataclass)."""

    preset: str = "full"
    root: str | None = None  # a MedleyDB tree; None renders the embedded corpus
    tracks: str | None = None  # optional track list file
    kinds: tuple[str, ...] = ("mix", "stem", "raw")
    taxonomy: str = "macro17"
    skip_unmapped: bool = False
    corpus: dict = field(default_factory=lambda: {"preset": "full", "seed": 0, "soundfonts": None})
    feature: FeatureConfig = field(default_factory=FeatureConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    split: dict = field(default_factory=lambda: {"seed": 0, "group": "artist"})
    balance: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    train_by_model: dict = field(default_factory=dict)
    models: tuple[str, ...] = MODEL_NAMES
    unseen: dict = field(default_factory=lambda: {"enabled": True, "max_tracks": None})
    n_jobs: int = -1

    def train_settings(self, model: str) -> dict:
        return {**self.train, **self.train_by_model.get(model, {})}


_SECTIONS = {"feature": FeatureConfig, "segment": SegmentConfig}
_DICTS = ("corpus", "split", "balance", "train", "train_by_model", "unseen")


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(preset: str = "demo", config_file: str | Path | None = None, **overrides) -> PipelineConfig:
    """Preset settings, then the YAML file's, then keyword overrides (e.g. root=...)."""
    if preset not in PRESETS:
        raise ConfigError(f"--preset: unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    data: dict = {"preset": preset, **copy.deepcopy(PRESETS[preset])}
    if config_file is not None:
        path = Path(config_file)
        try:
            user = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: malformed YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(user, dict):
            raise ConfigError(f"{path}: a config file must be a mapping of settings")
        data = _merge(data, user)
    data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    defaults = PipelineConfig()
    known = set(PipelineConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{config_file or 'config'}: unknown setting(s) {', '.join(unknown)}")
    kwargs: dict = {}
    for key, value in data.items():
        if key in _SECTIONS:
            kwargs[key] = from_dict(_SECTIONS[key], value, key)
        elif key in _DICTS:
            kwargs[key] = _merge(getattr(defaults, key), value or {})
        elif key in ("kinds", "models"):
            kwargs[key] = tuple(value.split(",") if isinstance(value, str) else value)
        else:
            kwargs[key] = value
    cfg = PipelineConfig(**kwargs)
    bad = [m for m in cfg.models if m not in MODEL_NAMES]
    if bad:
        raise ConfigError(f"models: unknown model(s) {', '.join(bad)} (known: {', '.join(MODEL_NAMES)})")
    return cfg
