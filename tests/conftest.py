"""Shared fixtures.

`fake_medleydb` builds a small MedleyDB tree in `tmp_path` from real METADATA files (those
shipped by `medleydb-instruments`), with tiny generated WAVs for every mix, stem and raw file
the metadata names, real activation files in both MedleyDB layouts, and pitch annotations.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from timbral import resources

REPO = Path(__file__).resolve().parents[1]

# Real tracks, each chosen for what it exercises (genres all differ).
LIST_TRACK = "Adele_SomeoneLikeYou"  # Pop; stem S02 = [female singer, vocalists]
SYSTEM_TRACK = "Phoenix_ScotchMorris"  # World/Folk; S04 = Main System; activation lacks S04
UNLABELED_TRACK = "VanillaIce_IceIceBaby"  # Rap; stems labelled `Unlabeled`
NORAW_TRACK = "LizNelson_Coldwar"  # Singer/Songwriter; its RAW entries are removed here
TRACKS = (LIST_TRACK, SYSTEM_TRACK, UNLABELED_TRACK, NORAW_TRACK)

ACTIVATION_DOWNLOAD = ("Annotations", "Instrument_Activations", "ACTIVATION_CONF")
ACTIVATION_FLAT = ("Annotations", "Activation_Confidence")
PITCH_DIR = ("Annotations", "Pitch_Annotations")


@dataclass(frozen=True)
class FakeMedleyDB:
    """A MedleyDB-shaped tree; `root/Audio/<T>/...` plus `root/Annotations/...`."""

    root: Path
    track_ids: tuple[str, ...]
    list_track: str
    system_track: str
    unlabeled_track: str
    noraw_track: str
    activations: dict[str, Path] = field(default_factory=dict)  # track id -> file
    pitch: dict[tuple[str, str], tuple[Path, np.ndarray]] = field(default_factory=dict)
    sr: int = 44100

    def metadata(self, track_id: str) -> Path:
        return self.root / "Audio" / track_id / f"{track_id}_METADATA.yaml"

    def edit_metadata(self, track_id: str, edit) -> Path:
        """Rewrite a track's YAML through `edit(dict) -> None`."""
        path = self.metadata(track_id)
        data = yaml.safe_load(path.read_text())
        edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path


def write_wav(path: Path, sr: int, seconds: float, channels: int, freq: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    tone = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1), sr, subtype="PCM_16")


def build_fake_medleydb(root: Path, seconds: float = 0.25, sr: int = 44100) -> FakeMedleyDB:
    """Write the fake tree under `root` (see module docstring)."""
    meta_dir = resources.metadata_dir()
    freq = 110.0
    for track_id in TRACKS:
        data = yaml.safe_load((meta_dir / f"{track_id}_METADATA.yaml").read_text())
        if track_id == NORAW_TRACK:
            for stem in data["stems"].values():
                stem.pop("raw", None)
        song = root / "Audio" / track_id
        song.mkdir(parents=True)
        (song / f"{track_id}_METADATA.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        write_wav(song / data["mix_filename"], sr, seconds, 2, freq)
        for stem in data["stems"].values():
            freq *= 1.1
            write_wav(song / data["stem_dir"] / stem["filename"], sr, seconds, 2, freq)
            for raw in (stem.get("raw") or {}).values():
                write_wav(song / data["raw_dir"] / raw["filename"], sr, seconds, 1, freq * 1.01)

    activations = {}
    for track_id, layout in ((LIST_TRACK, ACTIVATION_DOWNLOAD), (SYSTEM_TRACK, ACTIVATION_FLAT)):
        name = f"{track_id}_ACTIVATION_CONF.lab"
        dest = root.joinpath(*layout, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(resources.activation_dir() / name, dest)
        activations[track_id] = dest

    # Pitch: MedleyDB's own files have no header; the `time,f0` header form is accepted too.
    pitch = {}
    times = np.round(np.arange(20) * 256 / sr, 6)
    f0 = np.where(np.arange(20) % 5 == 0, 0.0, 220.0 + np.arange(20))
    for (track_id, stem_id), header in (((NORAW_TRACK, "S02"), False), ((LIST_TRACK, "S02"), True)):
        path = root.joinpath(*PITCH_DIR, f"{track_id}_STEM_{int(stem_id[1:]):02d}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = (["time,f0"] if header else []) + [f"{t:.6f},{f:.3f}" for t, f in zip(times, f0)]
        path.write_text("\n".join(lines) + "\n")
        pitch[(track_id, stem_id)] = (path, np.column_stack([times, f0]))

    return FakeMedleyDB(
        root=root, track_ids=TRACKS, list_track=LIST_TRACK, system_track=SYSTEM_TRACK,
        unlabeled_track=UNLABELED_TRACK, noraw_track=NORAW_TRACK, activations=activations,
        pitch=pitch, sr=sr,
    )


@pytest.fixture
def fake_medleydb(tmp_path: Path) -> FakeMedleyDB:
    """A fresh fake MedleyDB tree per test (safe to edit or break)."""
    return build_fake_medleydb(tmp_path / "medleydb")


@pytest.fixture(scope="session")
def v1_tracklist() -> Path:
    """MedleyDB V1's track list (122 songs) from the shared reference data beside the
    repository (`../shared/medleydb/`); reference data is never copied into the repository."""
    path = REPO.parent / "shared" / "medleydb" / "tracklist_v1.txt"
    if not path.is_file():
        pytest.skip(f"{path} absent: the MedleyDB V1 track list is reference data kept outside the repo")
    return path
