"""`timbral manifest`: read a MedleyDB tree into a manifest file."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manifest", help="list the audio items of a MedleyDB tree with their labels")
    p.add_argument("--root", required=True, help="MedleyDB root (Audio/...) or a folder of *_METADATA.yaml")
    p.add_argument("--kinds", default="mix,stem,raw", help="file kinds to include (default: mix,stem,raw)")
    p.add_argument("--taxonomy", default="macro17", help="macro17, fine, or a YAML table path")
    p.add_argument("--tracks", default=None, help="track list file (one Artist_Title per line)")
    p.add_argument("--metadata-only", action="store_true", help="do not require the audio to exist")
    p.add_argument("--skip-unmapped", action="store_true", help="drop labels the taxonomy does not cover")
    p.add_argument("--workdir", default=None, help="write <workdir>/manifest.parquet")
    p.add_argument("--out", default=None, help="write the manifest here (.parquet or .csv)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from timbral.data.manifest import build_manifest
    from timbral.errors import ConfigError

    manifest = build_manifest(args.root, args.kinds, args.taxonomy, args.tracks,
                              metadata_only=args.metadata_only, skip_unmapped=args.skip_unmapped)
    if args.out and args.out.endswith(".csv"):
        out = Path(args.out)
        frame = manifest.rows.copy()
        for col in ("fine_labels", "classes"):
            frame[col] = frame[col].map("|".join)
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
    elif args.out or args.workdir:
        out = manifest.save(args.out or Path(args.workdir) / "manifest.parquet")
    else:
        raise ConfigError("manifest: give --out FILE or --workdir DIR")
    y = manifest.y
    print(f"{len(manifest)} items, {manifest.rows['track_id'].nunique()} songs, "
          f"{int(y.sum())} labels over {len(manifest.classes)} classes -> {out}")
    return 0
