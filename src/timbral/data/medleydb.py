"""Parse a MedleyDB tree into track records. No audio is decoded here.

Accepted layouts for the metadata:
- a MedleyDB download: `ROOT/Audio/<T>/<T>_METADATA.yaml` (audio beside it);
- a folder of `<T>_METADATA.yaml` files (metadata only, e.g. the files shipped by
  `medleydb-instruments`, or MedleyDB's own `Metadata/` folder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from timbral.errors import DatasetError

log = logging.getLogger(__name__)

METADATA_SUFFIX = "_METADATA.yaml"
ACTIVATION_SUFFIX = "_ACTIVATION_CONF.lab"
# libyaml's loader when PyYAML has it: same result as yaml.safe_load, about 8x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# MedleyDB activation confidence: one row every 2048 samples at 44.1 kHz.
ACTIVATION_HOP_SECONDS = 2048 / 44100
ACTIVATION_LAYOUTS = (
    ("Annotations", "Instrument_Activations", "ACTIVATION_CONF"),
    ("Annotations", "Activation_Confidence"),
)
PITCH_LAYOUT = ("Annotations", "Pitch_Annotations")


@dataclass(frozen=True)
class Raw:
    raw_id: str  # "R01"
    filename: str
    instruments: tuple[str, ...]


@dataclass(frozen=True)
class Stem:
    stem_id: str  # "S01"
    filename: str
    instruments: tuple[str, ...]
    component: str
    raws: tuple[Raw, ...]

    @property
    def index(self) -> int:
        return int(self.stem_id.lstrip("S"))


@dataclass(frozen=True)
class Track:
    track_id: str  # "Artist_Title"
    artist: str  # the `Artist` part of the id: the grouping key for splits
    title: str
    genre: str
    has_bleed: bool
    instrumental: bool
    mix_filename: str
    stem_dir: str
    raw_dir: str
    stems: tuple[Stem, ...]
    metadata_path: Path
    audio_dir: Path | None  # folder holding the mix, STEMS and RAW folders, if any

    def labels(self) -> list[str]:
        """Every fine label of the track's stems, in stem order, without repeats."""
        return list(dict.fromkeys(lab for s in self.stems for lab in s.instruments))

    def mix_path(self) -> Path | None:
        return self.audio_dir / self.mix_filename if self.audio_dir else None

    def stem_path(self, stem: Stem) -> Path | None:
        return self.audio_dir / self.stem_dir / stem.filename if self.audio_dir else None

    def raw_path(self, raw: Raw) -> Path | None:
        return self.audio_dir / self.raw_dir / raw.filename if self.audio_dir else None


def artist_of(track_id: str) -> str:
    """MedleyDB ids are `Artist_Title`: the artist is the part before the first underscore."""
    return track_id.split("_", 1)[0]


def _instruments(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise DatasetError(f"{where}: `instrument` must be a label or a list of labels, got {value!r}")


def _yes(value: object) -> bool:
    return str(value).strip().lower() in {"yes", "true", "1"}


def read_track(path: Path, audio_dir: Path | None = None) -> Track:
    """Read one `<T>_METADATA.yaml` into a Track."""
    path = Path(path)
    track_id = path.name[: -len(METADATA_SUFFIX)] if path.name.endswith(METADATA_SUFFIX) else path.stem
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except FileNotFoundError:
        raise DatasetError(f"{path}: metadata file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: malformed YAML ({first})") from None
    if not isinstance(data, dict) or not isinstance(data.get("stems"), dict):
        raise DatasetError(f"{path}: not a MedleyDB metadata file (no `stems` mapping)")
    stems = []
    for stem_id, stem in sorted(data["stems"].items()):
        if not isinstance(stem, dict) or "filename" not in stem:
            raise DatasetError(f"{path}: stem {stem_id} has no filename")
        where = f"{path}: stem {stem_id}"
        raws = tuple(
            Raw(str(rid), str(raw["filename"]), _instruments(raw.get("instrument"), f"{where} raw {rid}"))
            for rid, raw in sorted((stem.get("raw") or {}).items())
            if isinstance(raw, dict) and raw.get("filename")
        )
        stems.append(
            Stem(
                stem_id=str(stem_id),
                filename=str(stem["filename"]),
                instruments=_instruments(stem.get("instrument"), where),
                component=str(stem.get("component") or ""),
                raws=raws,
            )
        )
    return Track(
        track_id=track_id,
        artist=artist_of(track_id),
        title=str(data.get("title") or track_id.split("_", 1)[-1]),
        genre=str(data.get("genre") or "Unknown"),
        has_bleed=_yes(data.get("has_bleed")),
        instrumental=_yes(data.get("instrumental")),
        mix_filename=str(data.get("mix_filename") or f"{track_id}_MIX.wav"),
        stem_dir=str(data.get("stem_dir") or f"{track_id}_STEMS"),
        raw_dir=str(data.get("raw_dir") or f"{track_id}_RAW"),
        stems=tuple(stems),
        metadata_path=path,
        audio_dir=audio_dir,
    )


def read_tracklist(path: str | Path) -> list[str]:
    """Track ids from a file with one `Artist_Title` per line (blank lines and # comments skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read track list ({exc.strerror})") from None
    ids = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not ids:
        raise DatasetError(f"{path}: the track list is empty")
    return ids


def find_metadata(root: str | Path) -> dict[str, tuple[Path, Path | None]]:
    """Map track id -> (metadata path, audio folder or None) for every track under `root`."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such directory")
    found: dict[str, tuple[Path, Path | None]] = {}
    audio = root / "Audio"
    if audio.is_dir():
        without = []
        for song_dir in sorted(p for p in audio.iterdir() if p.is_dir()):
            meta = song_dir / f"{song_dir.name}{METADATA_SUFFIX}"
            if meta.is_file():
                found[song_dir.name] = (meta, song_dir)
            else:
                without.append(song_dir.name)
        if without:
            log.warning("%s: %d song folder(s) without %s, skipped: %s", audio, len(without),
                        f"<T>{METADATA_SUFFIX}", ", ".join(without[:5]))
    else:
        for folder in (root, root / "Metadata"):
            for meta in sorted(folder.glob(f"*{METADATA_SUFFIX}")):
                found[meta.name[: -len(METADATA_SUFFIX)]] = (meta, None)
    if not found:
        raise DatasetError(
            f"{root}: no MedleyDB metadata found (expected Audio/<T>/<T>{METADATA_SUFFIX} "
            f"or a folder of *{METADATA_SUFFIX} files)"
        )
    return found


def load_tracks(root: str | Path, tracklist: str | Path | list[str] | None = None) -> list[Track]:
    """Read every track under `root`, or only those named by `tracklist` (a file or a list)."""
    found = find_metadata(root)
    if tracklist is None:
        ids = list(found)
    else:
        ids = read_tracklist(tracklist) if isinstance(tracklist, (str, Path)) else list(tracklist)
        missing = [t for t in ids if t not in found]
        if missing:
            where = tracklist if isinstance(tracklist, (str, Path)) else "track list"
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise DatasetError(f"{where}: {len(missing)} track(s) not found under {root}: {shown}")
    return [read_track(*found[t]) for t in dict.fromkeys(ids)]


def activation_file(root: str | Path, track_id: str) -> Path | None:
    """The track's activation-confidence file in either MedleyDB layout, if present."""
    for layout in ACTIVATION_LAYOUTS:
        path = Path(root).joinpath(*layout, f"{track_id}{ACTIVATION_SUFFIX}")
        if path.is_file():
            return path
    return None


def pitch_file(root: str | Path, track_id: str, stem: Stem) -> Path | None:
    """The stem's pitch annotation (`time,f0` CSV), if present."""
    path = Path(root).joinpath(*PITCH_LAYOUT, f"{track_id}_STEM_{stem.index:02d}.csv")
    return path if path.is_file() else None


@dataclass(frozen=True)
class Activations:
    """Per-stem activation confidence (0-1) sampled at `times` (seconds)."""

    times: np.ndarray
    by_stem: dict[str, np.ndarray]

    @property
    def hop_seconds(self) -> float:
        return float(np.median(np.diff(self.times))) if len(self.times) > 1 else ACTIVATION_HOP_SECONDS


def read_activations(path: str | Path, track: Track | None = None) -> Activations:
    """Read an ACTIVATION_CONF file (`time,S01,S02,...`), matching columns to stems by id.

    Columns for stems the metadata does not list are dropped, and stems without a column
    are left out; both are logged as warnings, never raised.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(f"{path}: unreadable activation file ({exc})") from None
    if frame.empty or frame.columns[0].strip().lower() != "time":
        raise DatasetError(f"{path}: an activation file needs a `time,S01,...` header and rows")
    frame.columns = [c.strip() for c in frame.columns]
    times = frame["time"].to_numpy(dtype=float)
    columns = {c: frame[c].to_numpy(dtype=float) for c in frame.columns[1:]}
    if track is not None:
        stem_ids = {s.stem_id for s in track.stems}
        extra = sorted(set(columns) - stem_ids)
        missing = sorted(stem_ids - set(columns))
        if extra or missing:
            log.warning(
                "%s: activation columns disagree with %s (no stem for %s; no column for %s)",
                path.name, track.metadata_path.name, extra or "-", missing or "-",
            )
        columns = {k: v for k, v in columns.items() if k in stem_ids}
    return Activations(times=times, by_stem=columns)


def read_pitch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a pitch annotation: (times, f0) arrays; f0 <= 0 means unvoiced."""
    path = Path(path)
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2, comments="#")
    except ValueError:
        try:
            data = np.loadtxt(path, delimiter=",", ndmin=2, skiprows=1)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable pitch annotation ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: unreadable pitch annotation ({exc})") from None
    if data.size == 0:
        return np.zeros(0), np.zeros(0)
    return data[:, 0], data[:, 1]
