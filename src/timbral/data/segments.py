"""Where a segment starts in a file.

Pure window functions (shared with inference) and `choose_segment`, which applies them to one
manifest row:

- mix: the window where the most stems are active at once, from the activation annotations;
  without them, the centre of the stems' pitch-annotated activity (the reference rule, in
  seconds); without those, the most energetic window.
- stem/raw: the most energetic window (default) or the first sample above an amplitude
  threshold after peak normalisation (the reference rule).

Every start is clamped so the window lies inside the file when the file is long enough;
shorter files start at 0 and are zero-padded by the loader.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from timbral.config import FeatureConfig, SegmentConfig
from timbral.data.audio import (
    AudioInfo,
    audio_info,
    load_audio,
    load_segment,
    scan_energy,
)
from timbral.data.medleydb import (
    METADATA_SUFFIX,
    Activations,
    Track,
    activation_file,
    pitch_file,
    read_activations,
    read_pitch,
    read_track,
)
from timbral.errors import AudioError, ConfigError
from timbral.taxonomy import Taxonomy, load_taxonomy

# A stem counts as present in a window when it is active for at least this share of it.
ACTIVE_FRACTION = 0.25


class SilentAudioError(AudioError):
    """The file (or the chosen window of it) holds no signal above the silence level."""


@dataclass(frozen=True)
class SegmentChoice:
    """Start (seconds) of the chosen window, the rule that chose it, and the classes active in
    it according to the activation annotations (None when the track has none)."""

    start: float
    strategy: str
    active_classes: list[str] | None = None

    @property
    def n_active(self) -> int:
        """Number of active classes, or -1 when unknown."""
        return -1 if self.active_classes is None else len(self.active_classes)


# --------------------------------------------------------------------------- window functions


def _clamp(start: float, duration_s: float | None, segment_s: float) -> float:
    hi = math.inf if duration_s is None else max(0.0, duration_s - segment_s)
    return float(min(max(start, 0.0), hi))


def window_starts(duration_s: float, window_s: float, hop_s: float) -> np.ndarray:
    """Starts (seconds) of sliding windows over a file: 0, hop, 2*hop, ... and, when the grid
    leaves a tail uncovered, one last window aligned to the end, so every sample is covered.
    A file no longer than one window gives a single start at 0."""
    if not (window_s > 0 and hop_s > 0):
        raise ConfigError(f"window_starts: window ({window_s}) and hop ({hop_s}) must be > 0")
    if not duration_s > window_s:
        return np.zeros(1)
    last = duration_s - window_s
    n = int(math.floor(last / hop_s + 1e-9)) + 1
    starts = np.arange(n, dtype=float) * hop_s
    if last - starts[-1] > 1e-6:
        starts = np.append(starts, last)
    return starts


def activity_counts(activations: Activations, threshold: float = 0.5) -> np.ndarray:
    """How many stems are active (confidence >= threshold) at each activation time step."""
    if not activations.by_stem:
        return np.zeros(len(activations.times), dtype=np.int64)
    conf = np.vstack([np.asarray(v, dtype=float) for v in activations.by_stem.values()])
    return (conf >= threshold).sum(axis=0)


def activity_window_start(
    activations: Activations,
    segment_s: float,
    threshold: float = 0.5,
    duration_s: float | None = None,
) -> float:
    """Start of the `segment_s` window holding the most stem activity at once: the window
    maximising the mean number of simultaneously active stems (earliest on ties).

    Candidate starts are the annotation's time steps; `duration_s` (the audio's length; by
    default the annotation's) bounds the window's end.
    """
    times = np.asarray(activations.times, dtype=float)
    if len(times) == 0:
        return 0.0
    hop = activations.hop_seconds
    end = float(times[-1] + hop) if duration_s is None else float(duration_s)
    max_start = max(0.0, end - segment_s)
    if max_start == 0.0:
        return 0.0
    counts = activity_counts(activations, threshold).astype(float)
    w = max(1, int(round(segment_s / hop)))
    csum = np.concatenate([[0.0], np.cumsum(counts)])
    candidates = np.flatnonzero(times <= max_start + 1e-9)
    if len(candidates) == 0:
        return 0.0
    stop = np.minimum(candidates + w, len(counts))
    score = csum[stop] - csum[candidates]
    best = candidates[int(np.argmax(score))]
    return _clamp(float(times[best]), end, segment_s)


def pitch_window_start(
    pitch: list[tuple[np.ndarray, np.ndarray]],
    segment_s: float,
    duration_s: float | None,
) -> float | None:
    """The reference rule, with its units right: each stem's activity interval runs from its
    first to its last voiced frame (f0 > 0); the window is centred on the mean of those
    intervals' centres (seconds) and clamped to the file. None if no stem has a voiced frame."""
    centres = []
    for times, f0 in pitch:
        voiced = np.asarray(f0, dtype=float) > 0
        if voiced.any():
            t = np.asarray(times, dtype=float)[voiced]
            centres.append((t.min() + t.max()) / 2.0)
    if not centres:
        return None
    return _clamp(float(np.mean(centres)) - segment_s / 2.0, duration_s, segment_s)


def energy_window_start(rms: np.ndarray, hop_s: float, segment_s: float) -> float:
    """Start of the most active window by energy: the window (a whole number of hops covering
    at least `segment_s`) with the highest mean RMS, earliest on ties; 0 if the signal is
    shorter than the window."""
    rms = np.nan_to_num(np.asarray(rms, dtype=float).ravel())
    if hop_s <= 0:
        raise ConfigError(f"energy_window_start: hop ({hop_s}) must be > 0")
    w = max(1, math.ceil(segment_s / hop_s - 1e-9))
    if len(rms) <= w:
        return 0.0
    csum = np.concatenate([[0.0], np.cumsum(rms)])
    score = csum[w:] - csum[:-w]
    return float(int(np.argmax(score)) * hop_s)


def threshold_start(y: np.ndarray, sr: int, threshold: float = 0.5) -> float:
    """The reference rule for stems: time of the first sample whose magnitude exceeds
    `threshold` after peak normalisation (0 for a silent signal or no such sample).

    (The reference compared signed values, so a signal whose peak is negative could start
    at 0; magnitudes are compared here.)"""
    y = np.abs(np.asarray(y, dtype=np.float32).ravel())
    peak = float(y.max()) if y.size else 0.0
    if peak <= 0:
        return 0.0
    above = y > threshold * peak
    return float(np.argmax(above)) / sr if above.any() else 0.0


# ------------------------------------------------------------------------- per-row choice


@functools.lru_cache(maxsize=8)
def _taxonomy(name: str) -> Taxonomy:
    return load_taxonomy(name)


def find_track(
    root: str | Path, track_id: str, tracks_cache: dict[str, Track | None] | None = None
) -> Track | None:
    """The track's metadata from a MedleyDB root (either layout), memoised in `tracks_cache`."""
    if tracks_cache is not None and track_id in tracks_cache:
        return tracks_cache[track_id]
    track = None
    if root:
        base = Path(root)
        song = base / "Audio" / track_id
        for meta, audio_dir in (
            (song / f"{track_id}{METADATA_SUFFIX}", song),
            (base / "Metadata" / f"{track_id}{METADATA_SUFFIX}", None),
            (base / f"{track_id}{METADATA_SUFFIX}", None),
        ):
            if meta.is_file():
                track = read_track(meta, audio_dir)
                break
    if tracks_cache is not None:
        tracks_cache[track_id] = track
    return track


_ACTIVATIONS: dict[tuple, Activations] = {}


def _activations(path: Path, track: Track | None) -> Activations:
    """`read_activations`, memoised per file version: a song's mix, stems and raw files all
    read the same file."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, track.metadata_path if track else None)
    if key not in _ACTIVATIONS:
        if len(_ACTIVATIONS) >= 16:
            _ACTIVATIONS.clear()
        _ACTIVATIONS[key] = read_activations(path, track)
    return _ACTIVATIONS[key]


def stem_classes(track: Track, taxonomy: Taxonomy, allowed: list[str] | None = None) -> dict:
    """stem_id -> the classes of the stem's labels (restricted to `allowed` if given)."""
    out = {}
    for stem in track.stems:
        classes = []
        for label in stem.instruments:
            cls = taxonomy.to_class(label) if taxonomy.covers(label) else None
            if cls is not None and cls not in classes and (allowed is None or cls in allowed):
                classes.append(cls)
        out[stem.stem_id] = classes
    return out


def active_stems(
    activations: Activations,
    start: float,
    segment_s: float,
    threshold: float = 0.5,
    fraction: float = ACTIVE_FRACTION,
) -> list[str]:
    """Stems active (confidence >= threshold) for at least `fraction` of the window."""
    times = np.asarray(activations.times, dtype=float)
    inside = (times >= start - 1e-9) & (times < start + segment_s - 1e-9)
    if not inside.any():
        return []
    return [
        sid for sid, conf in activations.by_stem.items()
        if np.mean(np.asarray(conf, dtype=float)[inside] >= threshold) >= fraction
    ]


def _field(row: Mapping[str, Any] | Any, name: str, default: Any = "") -> Any:
    try:
        value = row[name]
    except (KeyError, IndexError, TypeError):
        return default
    return default if value is None else value


def _check_window(path: str, info: AudioInfo, start: float, seg: float, level: float) -> None:
    y = load_segment(path, start, seg, sr=info.sr, normalize=False, info=info)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak < level:
        raise SilentAudioError(
            f"{path}: silent at {start:.1f}-{start + seg:.1f} s (peak {peak:.2g} < {level:g})"
        )


_MIX_RULES = {
    "activity": ("activity", "pitch", "energy"),
    "pitch": ("pitch", "energy"),
    "energy": ("energy",),
    "start": ("start",),
}


def _silent(path: str, peak: float, level: float) -> SilentAudioError:
    return SilentAudioError(f"{path}: silent file (peak {peak:.2g} < {level:g})")


def _apply_rule(
    rule: str, path: str, info: AudioInfo, seg: float, cfg: SegmentConfig,
    acts: Activations | None, pitch: list | None,
) -> tuple[float | None, bool]:
    """(start, whether the whole file was read) for one rule; start None if it does not apply
    (no annotation). Raises SilentAudioError when a full read finds no signal."""
    if rule == "activity":
        if acts is None or activity_counts(acts, cfg.activity_threshold).max(initial=0) == 0:
            return None, False
        return activity_window_start(acts, seg, cfg.activity_threshold, info.duration), False
    if rule == "pitch":
        return pitch_window_start(pitch or [], seg, info.duration), False
    if rule == "energy":
        scan = scan_energy(path, info=info)
        peak = float(scan.peak.max(initial=0))
        if scan.exact and peak < cfg.silence_peak:
            raise _silent(path, peak, cfg.silence_peak)
        return energy_window_start(scan.rms, scan.hop_s, seg), scan.exact
    if rule == "threshold":
        y, sr = load_audio(path, info)
        peak = float(np.max(np.abs(y)))
        if peak < cfg.silence_peak:
            raise _silent(path, peak, cfg.silence_peak)
        return threshold_start(y, sr, cfg.amplitude_threshold), True
    return 0.0, False  # "start"


def _active_classes(
    row: Mapping[str, Any], kind: str, acts: Activations, start: float, seg: float,
    threshold: float, track: Track | None, taxonomy: Taxonomy | None,
) -> list[str] | None:
    on = set(active_stems(acts, start, seg, threshold))
    if kind != "mix":
        return list(_field(row, "classes", [])) if str(_field(row, "stem_id")) in on else []
    if taxonomy is None or track is None:
        return None
    allowed = list(_field(row, "classes", [])) or None
    per_stem = stem_classes(track, taxonomy, allowed)
    active: list[str] = []
    for sid in acts.by_stem:
        if sid in on:
            active += [c for c in per_stem.get(sid, []) if c not in active]
    return sorted(active, key=allowed.index) if allowed else active


def choose_segment(
    row: Mapping[str, Any],
    root: Path | str,
    feature_cfg: FeatureConfig = FeatureConfig(),
    segment_cfg: SegmentConfig = SegmentConfig(),
    tracks_cache: dict[str, Track | None] | None = None,
    *,
    taxonomy: Taxonomy | str | None = "macro17",
    info: AudioInfo | None = None,
    check_silence: bool = True,
) -> SegmentChoice:
    """Pick where `row`'s segment starts (see the module docstring for the rules).

    `row` is a manifest row (`path`, `kind`, `track_id`, `stem_id`, `classes`); `root` the
    MedleyDB root holding the annotations. Raises AudioError for unreadable files and
    SilentAudioError (an AudioError) for silent ones. With `check_silence=False` a rule that
    does not read the audio (activity, pitch) skips the silence check of its window; the caller
    must then check the loaded segment itself. `taxonomy` maps a mix's stems to classes for
    `active_classes`; without it (None), or without the track's metadata under `root`, a
    mix's active classes are unknown (None).
    """
    path = str(_field(row, "path"))
    if not path:
        raise AudioError(f"{_field(row, 'item_id', '?')}: the manifest row has no audio path")
    kind = str(_field(row, "kind", "mix"))
    track_id = str(_field(row, "track_id"))
    seg = feature_cfg.segment_seconds
    info = info or audio_info(path)
    tax = _taxonomy(taxonomy) if isinstance(taxonomy, str) else taxonomy
    track = find_track(root, track_id, tracks_cache) if root and track_id else None
    act_path = activation_file(root, track_id) if root and track_id else None
    acts = _activations(act_path, track) if act_path is not None else None
    rules = _MIX_RULES[segment_cfg.mix_strategy] if kind == "mix" else (segment_cfg.stem_strategy,)

    start, strategy, read_all = 0.0, "short", False
    if info.duration > seg:
        strategy = "start"  # if no rule applies (only annotation rules can decline)
        for rule in rules:
            pitch = None
            if rule == "pitch":
                files = [pitch_file(root, track_id, s) for s in (track.stems if track else ())]
                pitch = [read_pitch(f) for f in files if f is not None]
            found, read_all = _apply_rule(rule, path, info, seg, segment_cfg, acts, pitch)
            if found is not None:
                start, strategy = _clamp(found, info.duration, seg), rule
                break
    if check_silence and not read_all:
        _check_window(path, info, start, seg, segment_cfg.silence_peak)
    active = None
    if acts is not None:
        active = _active_classes(row, kind, acts, start, seg, segment_cfg.activity_threshold,
                                 track, tax)
    return SegmentChoice(start=start, strategy=strategy, active_classes=active)
