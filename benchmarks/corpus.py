"""Corpus renderer benchmark: synthesis speed, preset wall time and size, activation agreement,
per-class artist counts.

    python benchmarks/corpus.py                 # demo preset into a temporary folder
    python benchmarks/corpus.py --preset tiny --keep --out /tmp/tiny

Prints the figures, then ends with a `name: value` line (the preset's render wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

# Budget: 40 songs x 30 s in ~36 s wall on 2 cores.
BUDGET_SONG_SECONDS_PER_WALL_SECOND = 40 * 30 / 36


def synthesis_speed(seconds: float = 30.0) -> float:
    """Audio seconds per CPU second per stem of the SoundFont synthesis alone (5 stems)."""
    from timbral.corpus import synth
    from timbral.corpus.parts import notes_for
    from timbral.corpus.plan import make_plan
    from timbral.corpus.sounds import sound_for

    path = synth.default_soundfonts()[0]
    plan = make_plan(np.random.default_rng(0), "Rock", seconds)
    stems = ["piano", "electric bass", "string section", "clean electric guitar", "drum set"]
    parts = []
    for i, label in enumerate(stems):
        sound = sound_for(label)
        notes = notes_for(sound, sound.role, plan, np.random.default_rng(i), seconds)
        drum = sound.role == "kit"
        bank, program = (0, 0) if drum else sound.programs[0]
        parts.append((bank, program, drum, notes))
    synth.load_soundfont(path)
    start = time.process_time()
    for bank, program, drum, notes in parts:
        synth.render_notes(path, bank, program, drum, notes, int(seconds * synth.SR))
    cpu = time.process_time() - start
    return seconds * len(stems) / cpu


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    from timbral.corpus import PRESETS, render_corpus
    from timbral.data.manifest import build_manifest

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="demo", choices=sorted(PRESETS))
    ap.add_argument("--out", type=Path, default=None, help="render here (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the rendered corpus")
    ap.add_argument("--jobs", type=int, default=-1)
    args = ap.parse_args()

    speed = synthesis_speed()
    print(f"synthesis only (tinysoundfont, 5 stems x 30 s): {speed:,.0f} audio s per CPU s per stem "
          f"({1 / speed:.4f} CPU s per audio s per stem)")

    out = args.out or Path(tempfile.mkdtemp(prefix="timbral-corpus-")) / args.preset
    if out.exists():
        shutil.rmtree(out)
    started = time.perf_counter()
    render_corpus(out, preset=args.preset, n_jobs=args.jobs, progress=False)
    wall = time.perf_counter() - started
    summary = json.loads((out / "corpus.json").read_text())
    tracks = summary["tracks"]
    audio_stem_seconds = sum(t["duration"] * len(t["stems"]) for t in tracks.values())
    song_seconds = sum(t["duration"] for t in tracks.values())
    cpu = sum(t["cpu_seconds"] for t in tracks.values())
    size = disk_bytes(out)
    n_stems = sum(len(t["stems"]) for t in tracks.values())
    print(f"preset {args.preset}: {len(tracks)} songs, {n_stems} stems, {song_seconds:.0f} s of music; "
          f"{os.cpu_count()} cores")
    print(f"  wall {wall:.1f} s (fresh render, process start not included); worker CPU {cpu:.1f} s")
    print(f"  whole pipeline: {audio_stem_seconds / cpu:.1f} audio s per CPU s per stem")
    print(f"  {song_seconds / wall:.1f} song-seconds per wall second vs the budget "
          f"{BUDGET_SONG_SECONDS_PER_WALL_SECOND:.1f} "
          f"(x{song_seconds / wall / BUDGET_SONG_SECONDS_PER_WALL_SECOND:.2f})")
    print(f"  disk {size / 1e9:.2f} GB")

    agreements = [s["agreement"] for t in tracks.values() for s in t["stems"].values() if "agreement" in s]
    per_track = [np.mean([s["agreement"] for s in t["stems"].values() if "agreement" in s])
                 for t in tracks.values() if any("agreement" in s for s in t["stems"].values())]
    print(f"activation agreement with the real curves (>=0.5 decisions): mean over {len(agreements)} "
          f"stems {np.mean(agreements):.4f}, min stem {np.min(agreements):.4f}, "
          f"mean over {len(per_track)} tracks {np.mean(per_track):.4f}")

    manifest = build_manifest(out, kinds="stem")
    artists: dict[str, set[str]] = defaultdict(set)
    for artist, classes in zip(manifest.rows["artist"], manifest.rows["classes"], strict=True):
        for c in classes:
            artists[c].add(artist)
    print("artists with stems per class:")
    for c in manifest.classes:
        print(f"  {c:20s} {len(artists[c])}")
    print(f"classes with >= 3 artists: {sum(len(artists[c]) >= 3 for c in manifest.classes)}/{len(manifest.classes)}")
    if not args.keep and args.out is None:
        shutil.rmtree(out.parent, ignore_errors=True)
    print(f"{args.preset}_render_wall_s: {wall:.1f}")


if __name__ == "__main__":
    main()
