"""Size presets: which real tracks are rendered, how long the excerpts are, mono or stereo.

The track lists live in `presets.yaml` (made by `timbral.corpus.selection`, which explains the
choice); `full` renders all 330 tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from timbral.errors import ConfigError

TABLE = Path(__file__).with_name("presets.yaml")


@dataclass(frozen=True)
class Preset:
    name: str
    duration: float  # excerpt seconds
    tracks: tuple[str, ...]  # empty: every track in the metadata
    stem_channels: int = 1
    mix_channels: int = 2
    description: str = ""


def load_presets(path: Path = TABLE) -> dict[str, Preset]:
    """Read the preset table."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        name: Preset(name=name, duration=float(p["duration"]), tracks=tuple(p.get("tracks") or ()),
                     stem_channels=int(p.get("stem_channels", 1)), mix_channels=int(p.get("mix_channels", 2)),
                     description=str(p.get("description", "")))
        for name, p in data["presets"].items()
    }


PRESETS: dict[str, Preset] = load_presets()


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"preset {name!r}: unknown (choose {', '.join(PRESETS)})")
    return PRESETS[name]
