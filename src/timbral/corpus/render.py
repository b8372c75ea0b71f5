"""Render a MedleyDB-shaped corpus: songs in parallel (joblib), resumable, with a progress bar."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from timbral import __version__
from timbral.config import stable_hash
from timbral.corpus import synth, writer
from timbral.corpus.presets import get_preset
from timbral.corpus.song import SongRenderer, SongSettings
from timbral.data.medleydb import ACTIVATION_SUFFIX, METADATA_SUFFIX, read_activations, read_track
from timbral.errors import ConfigError, DatasetError
from timbral.resources import activation_dir, metadata_dir

log = logging.getLogger(__name__)
CORPUS_VERSION = 1  # bump when the rendering changes what a seed produces
STATE_DIR = ".timbral-corpus"
PARTIAL_DIR = ".partial"


def available_tracks() -> dict[str, tuple[Path, Path | None]]:
    """Track id -> (real metadata file, real activation file or None)."""
    meta, acts = metadata_dir(), activation_dir()
    out = {}
    for path in sorted(meta.glob(f"*{METADATA_SUFFIX}")):
        tid = path.name[: -len(METADATA_SUFFIX)]
        lab = acts / f"{tid}{ACTIVATION_SUFFIX}"
        out[tid] = (path, lab if lab.is_file() else None)
    return out


def check_track_ids(ids: list[str], where: str = "track list") -> list[str]:
    """The ids without repeats; DatasetError naming `where` if any is not a MedleyDB track."""
    known = available_tracks()
    missing = [t for t in ids if t not in known]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"{where}: {len(missing)} track id(s) not in the MedleyDB metadata: {shown}")
    if not ids:
        raise DatasetError(f"{where}: no tracks to render")
    return list(dict.fromkeys(ids))


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import pedalboard
    import tinysoundfont  # noqa: F401

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return {"timbral": __version__, "corpus": CORPUS_VERSION, "tinysoundfont": v("tinysoundfont"),
            "pedalboard": pedalboard.__version__, "numpy": v("numpy"),
            "espeak-ng": synth.espeak_path() or "absent"}


def _render_one(track_id: str, meta: Path, lab: Path | None, settings: SongSettings, out: Path,
                key: str) -> dict:
    """Render one song into a temporary folder, publish it, then record it as finished."""
    track = read_track(meta)
    acts = _quiet_activations(lab, track) if lab is not None else None
    tmp = out / PARTIAL_DIR / f"{track_id}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.process_time()
    record = SongRenderer(track, acts, settings).render(tmp)
    writer.publish(tmp, out, track_id)
    record["key"] = key
    record["cpu_seconds"] = round(time.process_time() - started, 3)
    state = out / STATE_DIR / f"{track_id}.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    part = state.with_name(state.name + ".tmp")
    part.write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
    part.replace(state)
    return record


def _quiet_activations(lab: Path, track):
    """Real activation curves; column/stem mismatches of the shipped files are expected, so
    their warnings are kept out of the progress output (stems without a column get generated
    activity)."""
    logger = logging.getLogger("timbral.data.medleydb")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return read_activations(lab, track)
    finally:
        logger.setLevel(level)


def _finished(out: Path, track_id: str, key: str) -> bool:
    state = out / STATE_DIR / f"{track_id}.json"
    if not (out / "Audio" / track_id / f"{track_id}{METADATA_SUFFIX}").is_file() or not state.is_file():
        return False
    try:
        return json.loads(state.read_text(encoding="utf-8")).get("key") == key
    except (OSError, ValueError):
        return False


def render_corpus(out: Path, preset: str = "tiny", soundfonts: list[Path] | None = None,
                  seed: int = 0, tracks: list[str] | None = None, duration: float | None = None,
                  n_jobs: int = -1, progress: bool = True) -> Path:
    """Render the preset's tracks (or `tracks`) into `out` in MedleyDB's layout; returns `out`.

    Deterministic for a seed and SoundFonts; a rerun skips songs already rendered with the
    same settings and resumes the others.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    spec = get_preset(preset)
    known = available_tracks()
    ids = check_track_ids(list(tracks) if tracks is not None else list(spec.tracks or known))
    duration = float(duration if duration is not None else spec.duration)
    if not duration > 0:
        raise ConfigError(f"--duration: must be positive, got {duration}")
    refs = [synth.check_soundfont(p) for p in (soundfonts or synth.default_soundfonts())]
    settings = SongSettings(seed=int(seed), duration=duration, soundfonts=tuple(r.path for r in refs),
                            stem_channels=spec.stem_channels, mix_channels=spec.mix_channels)
    base = {"seed": settings.seed, "duration": duration, "soundfonts": [r.sha256 for r in refs],
            "stem_channels": spec.stem_channels, "mix_channels": spec.mix_channels,
            "version": CORPUS_VERSION}
    keys = {t: stable_hash(base, t) for t in ids}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [t for t in ids if not _finished(out, t, keys[t])]
    if todo:
        jobs = (delayed(_render_one)(t, known[t][0], known[t][1], settings, out, keys[t]) for t in todo)
        runner = Parallel(n_jobs=1 if len(todo) == 1 else n_jobs, return_as="generator_unordered")
        bar = tqdm(total=len(todo), desc="corpus", unit="song", disable=not progress)
        with bar:
            for _ in runner(jobs):
                bar.update(1)
    shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)
    audio = out / "Audio"
    others = sorted({p.name for p in audio.iterdir() if p.is_dir()} - set(ids)) if audio.is_dir() else []
    if others:
        log.warning("%s: %d song(s) under Audio/ are not part of this render and were left in place "
                    "(e.g. %s); corpus.json lists only this render's songs", out, len(others), others[0])
    records = {t: json.loads((out / STATE_DIR / f"{t}.json").read_text(encoding="utf-8")) for t in ids}
    summary = {
        "preset": preset, "seed": settings.seed, "duration": duration,
        "tracks_requested": "list" if tracks is not None else "preset",
        "soundfonts": [r.to_dict() for r in refs], "versions": versions(),
        "stem_channels": spec.stem_channels, "mix_channels": spec.mix_channels,
        "tracks": records,
    }
    target = out / "corpus.json"
    part = target.with_name("corpus.json.tmp")
    part.write_text(json.dumps(summary, indent=1, sort_keys=True), encoding="utf-8")
    part.replace(target)
    return out
