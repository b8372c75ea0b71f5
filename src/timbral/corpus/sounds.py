"""The label -> sound table (`sounds.yaml`): what each MedleyDB label plays and on which sound."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from timbral.errors import ConfigError

TABLE = Path(__file__).with_name("sounds.yaml")
ROLES = frozenset({
    "kit", "drum_machine", "percussion", "bass", "comp", "arp", "pad", "section", "melody",
    "hits", "timpani", "speech", "rap", "scream", "fx", "sampler", "scratch", "synth", "system",
})
DRUM_PIECES = ("kick", "snare", "hats", "toms", "cymbals")


@dataclass(frozen=True)
class Sound:
    """How one label is played."""

    label: str
    role: str
    programs: tuple[tuple[int, int], ...] = ((0, 0),)
    kits: tuple[int, ...] = (0,)
    keys: tuple[int, ...] = ()
    range: tuple[int, int] = (48, 72)
    pieces: tuple[str, ...] = DRUM_PIECES
    style: str = ""
    voice: str = ""
    approx: str = ""


def _sound(label: str, entry: dict) -> Sound:
    role = entry.get("role")
    if role not in ROLES:
        raise ConfigError(f"{TABLE}: label {label!r} has unknown role {role!r}")
    return Sound(
        label=label,
        role=role,
        programs=tuple((int(b), int(p)) for b, p in entry.get("programs", [(0, 0)])),
        kits=tuple(int(k) for k in entry.get("kits", [0])),
        keys=tuple(int(k) for k in entry.get("keys", [])),
        range=tuple(entry.get("range", (48, 72))),
        pieces=tuple(entry.get("pieces", DRUM_PIECES)),
        style=str(entry.get("style", "")),
        voice=str(entry.get("voice", "")),
        approx=str(entry.get("approx", "")),
    )


@lru_cache(maxsize=1)
def sound_table() -> dict[str, Sound]:
    """Every label's Sound, read once from `sounds.yaml`."""
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    return {label: _sound(label, entry) for label, entry in data["labels"].items()}


def sound_for(label: str) -> Sound:
    """The Sound of a MedleyDB label; an unknown label is played as a piano part."""
    table = sound_table()
    if label in table:
        return table[label]
    return Sound(label=label, role="comp", range=(48, 76), approx="unknown label: piano")
