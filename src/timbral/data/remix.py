"""Stem remixing: new multi-label examples from random subsets of one track's stems.

A remix sums a few of a training track's stems over one window, each with a random gain, and
is labelled with the union of the classes of the stems that are active *in that window*.
Activity comes from the track's activation annotation where it has a column for the stem
(share of annotation steps with confidence >= threshold), otherwise from the stem's own audio
(share of frames within `active_db` of the stem's loudest frame over the whole file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timbral.config import FeatureConfig
from timbral.data.audio import audio_info, load_segment, peak_normalize
from timbral.data.features import logmel
from timbral.data.medleydb import read_activations
from timbral.data.reextract import frame_activity


@dataclass(frozen=True)
class RemixPlan:
    """What one remix sums: stems of one track, their gains, and a seed for its window."""

    track_id: str
    item_ids: tuple[str, ...]
    stem_ids: tuple[str, ...]
    paths: tuple[str, ...]
    classes: tuple[tuple[str, ...], ...]  # classes of each stem
    gains_db: tuple[float, ...]
    seed: int
    activation: str | None = None  # the track's activation annotation, if any


@dataclass(frozen=True)
class ActivityRule:
    """When a stem counts as active in a window (see the module docstring)."""

    active_db: float = -30.0
    active_share: float = 0.25
    annotation_threshold: float = 0.5


@dataclass
class RemixOutcome:
    spectrogram: np.ndarray
    start: float
    active: tuple[bool, ...]
    classes: tuple[str, ...]  # union over active stems, in stem order


def plan_track_remixes(
    track_id: str,
    stems: list[tuple[str, str, str, tuple[str, ...]]],
    n_remixes: int,
    min_stems: int,
    gain_db: tuple[float, float],
    rng: np.random.Generator,
    activation: str | None = None,
) -> list[RemixPlan]:
    """Plan `n_remixes` remixes of a track from `stems` = [(item_id, stem_id, path, classes)].

    Each takes a random subset of min_stems..all stems; a track with fewer stems gets none.
    """
    if len(stems) < max(min_stems, 1):
        return []
    plans = []
    for _ in range(n_remixes):
        k = int(rng.integers(min_stems, len(stems) + 1))
        chosen = sorted(rng.choice(len(stems), size=k, replace=False).tolist())
        gains = np.round(rng.uniform(gain_db[0], gain_db[1], size=k), 2)
        picked = [stems[i] for i in chosen]
        plans.append(RemixPlan(
            track_id=track_id,
            item_ids=tuple(s[0] for s in picked),
            stem_ids=tuple(s[1] for s in picked),
            paths=tuple(s[2] for s in picked),
            classes=tuple(tuple(s[3]) for s in picked),
            gains_db=tuple(float(g) for g in gains),
            seed=int(rng.integers(2**31)),
            activation=activation,
        ))
    return plans


def annotation_active(
    times: np.ndarray, conf: np.ndarray, start: float, duration: float, rule: ActivityRule,
) -> bool:
    """Whether annotation steps in [start, start + duration) are active often enough."""
    inside = (times >= start) & (times < start + duration)
    if not inside.any():
        return False
    return float(np.mean(conf[inside] >= rule.annotation_threshold)) >= rule.active_share


def audio_active(
    window: np.ndarray, ref_rms: float, cfg: FeatureConfig, rule: ActivityRule,
) -> bool:
    """Whether a stem window has enough frames within `active_db` of `ref_rms`."""
    active = frame_activity(window, cfg.n_fft, cfg.hop_length, rule.active_db, ref=ref_rms)
    return bool(active.size) and float(active.mean()) >= rule.active_share


def _max_rms(y: np.ndarray, cfg: FeatureConfig) -> float:
    import librosa

    if len(y) == 0:
        return 0.0
    return float(librosa.feature.rms(y=y, frame_length=cfg.n_fft, hop_length=cfg.hop_length)[0].max())


def render_remix(
    plan: RemixPlan,
    cfg: FeatureConfig,
    rule: ActivityRule = ActivityRule(),
    tries: int = 4,
    min_active: int = 2,
    start: float | None = None,
) -> RemixOutcome | None:
    """Render a planned remix: choose its window, decide activity, sum, take the log-mel.

    Up to `tries` random windows (from `plan.seed`) are tried; the first with at least
    `min_active` active stems wins, else the one with the most. `start` fixes the window.
    Returns None when no chosen stem is active in the window (nothing to label).
    """
    seg = cfg.segment_seconds
    duration = min(audio_info(p).duration for p in plan.paths)
    if start is not None:
        starts = [float(start)]
    elif duration <= seg:
        starts = [0.0]
    else:
        rng = np.random.default_rng(plan.seed)
        starts = [round(float(s), 3) for s in rng.uniform(0.0, duration - seg, size=max(tries, 1))]

    columns: dict[str, np.ndarray] = {}
    times = np.zeros(0)
    if plan.activation:
        acts = read_activations(plan.activation)
        times, columns = acts.times, acts.by_stem
    whole: dict[int, tuple[np.ndarray, float]] = {}  # stems judged from audio: (y, ref rms)
    for i, (stem_id, path) in enumerate(zip(plan.stem_ids, plan.paths)):
        if stem_id not in columns:
            y = load_segment(path, 0.0, None, sr=cfg.sr, normalize=False)
            whole[i] = (y, _max_rms(y, cfg))

    def window_of(i: int, s: float) -> np.ndarray:
        if i in whole:
            first = int(round(s * cfg.sr))
            w = whole[i][0][first : first + cfg.segment_samples]
            return np.pad(w, (0, cfg.segment_samples - len(w)))
        return load_segment(plan.paths[i], s, seg, sr=cfg.sr, normalize=False)

    def activity(s: float) -> tuple[bool, ...]:
        out = []
        for i, stem_id in enumerate(plan.stem_ids):
            if i in whole:
                out.append(audio_active(window_of(i, s), whole[i][1], cfg, rule))
            else:
                out.append(annotation_active(times, columns[stem_id], s, seg, rule))
        return tuple(out)

    need = min(min_active, len(plan.paths))
    best: tuple[float, tuple[bool, ...]] | None = None
    for s in starts:
        act = activity(s)
        if best is None or sum(act) > sum(best[1]):
            best = (s, act)
        if sum(act) >= need:
            break
    chosen, active = best
    if not any(active):
        return None
    mix = np.zeros(cfg.segment_samples, dtype=np.float32)
    for i, gain in enumerate(plan.gains_db):
        mix += np.float32(10.0 ** (gain / 20.0)) * window_of(i, chosen)
    if not np.any(mix):
        return None
    classes: list[str] = []
    for on, stem_classes in zip(active, plan.classes):
        if on:
            classes.extend(c for c in stem_classes if c not in classes)
    return RemixOutcome(logmel(peak_normalize(mix), cfg), chosen, active, tuple(classes))
