"""`timbral corpus`: render the embedded MedleyDB-shaped corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

PRESET_NAMES = ("tiny", "demo", "full")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "corpus",
        help="render a MedleyDB-shaped corpus from the real metadata with sampled instruments",
        description="Render MedleyDB's real songs (stems, labels, activity) with SoundFont "
        "instruments into MedleyDB's layout. Deterministic for a seed; a rerun resumes.",
    )
    p.add_argument("--preset", default="tiny",
                   help=f"size preset: {', '.join(PRESET_NAMES)} (default: tiny)")
    p.add_argument("--out", type=Path, required=True, help="output folder (MedleyDB root)")
    p.add_argument("--soundfont", type=Path, action="append", default=None, metavar="PATH",
                   help="a .sf2/.sf3 SoundFont; repeat to draw each stem's sounds from several "
                   "(default: FluidR3_GM, else the one bundled with pretty_midi)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--tracks", type=Path, default=None, metavar="FILE",
                   help="render these track ids (one Artist_Title per line) instead of the preset's")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="excerpt length in seconds (default: the preset's)")
    p.add_argument("--jobs", type=int, default=-1, metavar="N",
                   help="parallel songs (default: -1 = all cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from timbral.corpus import render_corpus
    from timbral.corpus.render import check_track_ids
    from timbral.data.medleydb import read_tracklist

    tracks = None
    if args.tracks is not None:
        tracks = check_track_ids(read_tracklist(args.tracks), where=str(args.tracks))
    started = time.perf_counter()
    out = render_corpus(args.out, preset=args.preset, soundfonts=args.soundfont, seed=args.seed,
                        tracks=tracks, duration=args.duration, n_jobs=args.jobs, progress=True)
    summary = json.loads((out / "corpus.json").read_text(encoding="utf-8"))
    n_stems = sum(len(t["stems"]) for t in summary["tracks"].values())
    print(f"corpus: {len(summary['tracks'])} songs, {n_stems} stems in {out} "
          f"({time.perf_counter() - started:.1f} s)")
    return 0
