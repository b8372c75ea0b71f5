"""`timbral analyze`: label distribution, instrument x genre and co-occurrence from metadata only."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="metadata analysis: label counts, instrument x genre, co-occurrence (no audio)"
    )
    p.add_argument("--metadata", default=None,
                   help="MedleyDB root (Audio/...) or a folder of *_METADATA.yaml "
                        "(default: the real MedleyDB metadata shipped with medleydb-instruments)")
    p.add_argument("--tracks", default=None, help="track list file (one Artist_Title per line)")
    p.add_argument("--kinds", default="mix,stem,raw",
                   help="file kinds the per-file counts cover (default: mix,stem,raw)")
    p.add_argument("--taxonomy", default="macro17", help="macro17, fine, or a YAML table path")
    p.add_argument("--skip-unmapped", action="store_true", help="drop labels the taxonomy does not cover")
    p.add_argument("--no-figures", action="store_true", help="write the CSV tables only")
    p.add_argument("--out", required=True, help="folder for the CSV tables and PNG figures")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import json

    from timbral.analysis import analyze

    paths = analyze(metadata=args.metadata, tracks=args.tracks, kinds=args.kinds,
                    taxonomy=args.taxonomy, out=args.out, skip_unmapped=args.skip_unmapped, figures=not args.no_figures)
    s = json.loads(paths["summary.json"].read_text())
    print(f"analyzed {s['n_songs']} songs: {s['n_files']} files ({','.join(s['kinds'])}), "
          f"{s['n_labels']} labels over {s['n_classes']} {s['taxonomy']} classes -> "
          f"{len(paths)} files in {args.out}")
    return 0
