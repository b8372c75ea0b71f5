"""Files in MedleyDB's formats: WAV audio, restricted METADATA YAML, pitch CSVs, and the move of
a finished song from its temporary folder into the corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from timbral.data.medleydb import ACTIVATION_LAYOUTS, PITCH_LAYOUT, Track

SR = 44100
PITCH_HOP = 256


def write_wav(path: Path, y: np.ndarray) -> None:
    """16-bit PCM WAV at 44.1 kHz (mono for 1-D, channels last for 2-D)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(y, -1.0, 1.0), SR, subtype="PCM_16", format="WAV")


def pitch_rows(notes: list, n_samples: int, vibrato=None) -> np.ndarray:
    """(time, f0) rows every 256 samples where one of `notes` sounds (voiced frames only),
    following the vibrato the notes were played with, if any."""
    n = int(np.ceil(n_samples / PITCH_HOP))
    times = np.arange(n) * PITCH_HOP / SR
    f0 = np.zeros(n)
    for note in notes:
        a = max(0, int(np.ceil(note.start * SR / PITCH_HOP)))
        b = min(n, int(np.ceil((note.start + note.dur) * SR / PITCH_HOP)))
        cents = vibrato.cents(times[a:b], note) if vibrato is not None else 0.0
        f0[a:b] = 440.0 * 2.0 ** ((note.key - 69) / 12.0 + cents / 1200.0)
    voiced = f0 > 0
    return np.column_stack([times[voiced], f0[voiced]])


def write_pitch(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{t:.7f},{f:.7f}\n" for t, f in rows), encoding="utf-8")


def restricted_metadata(track: Track, kept: dict[str, list[str]], excerpt: bool) -> dict:
    """The track's real metadata with only the rendered stems and, in each, the rendered raws."""
    data = yaml.safe_load(track.metadata_path.read_text(encoding="utf-8"))
    stems = {}
    for stem_id, entry in data["stems"].items():
        if str(stem_id) not in kept:
            continue
        entry = dict(entry)
        raws = entry.get("raw") or {}
        entry["raw"] = {rid: raws[rid] for rid in raws if str(rid) in kept[str(stem_id)]}
        stems[stem_id] = entry
    data["stems"] = stems
    if excerpt:
        data["excerpt"] = "yes"
    return data


def write_metadata(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def activation_path(root: Path, track_id: str) -> Path:
    return root.joinpath(*ACTIVATION_LAYOUTS[0], f"{track_id}_ACTIVATION_CONF.lab")


def pitch_path(root: Path, track_id: str, index: int) -> Path:
    return root.joinpath(*PITCH_LAYOUT, f"{track_id}_STEM_{index:02d}.csv")


def publish(tmp: Path, out: Path, track_id: str) -> None:
    """Move a finished song from `tmp` (a mirror of the corpus layout) into `out`.

    Annotations move first, the audio folder last: the song counts as done only once
    `Audio/<T>` is in place, so an interruption leaves it to be rendered again.
    """
    for stale in out.joinpath(*PITCH_LAYOUT).glob(f"{track_id}_STEM_*.csv"):
        stale.unlink()
    for src in sorted(tmp.joinpath("Annotations").rglob("*")):
        if src.is_file():
            dst = out / src.relative_to(tmp)
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.replace(dst)
    final = out / "Audio" / track_id
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        shutil.rmtree(final)
    (tmp / "Audio" / track_id).rename(final)
    shutil.rmtree(tmp, ignore_errors=True)
