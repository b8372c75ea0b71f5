"""The manifest: one row per audio item (mix, stem or raw file) with its labels.

Label rules (as in the reference): a stem carries its own labels; a raw file takes its
stem's labels; a mix takes the union of its stems' classes. Ignored labels (e.g.
`Unlabeled`) are dropped; an item left with no class is left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from timbral.data.medleydb import Track, load_tracks
from timbral.errors import DatasetError, TaxonomyError
from timbral.taxonomy import Taxonomy, load_taxonomy

KINDS = ("mix", "stem", "raw")
COLUMNS = [
    "item_id", "track_id", "artist", "title", "genre", "kind", "path", "stem_id", "raw_id",
    "fine_labels", "classes", "has_bleed",
]


def parse_kinds(kinds: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`"mix,stem"` or a sequence -> validated tuple of kinds, in canonical order."""
    items = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds) if k.strip()]
    bad = [k for k in items if k not in KINDS]
    if bad or not items:
        raise DatasetError(f"kinds: {','.join(bad) or '(none)'} not among {','.join(KINDS)}")
    return tuple(k for k in KINDS if k in items)


@dataclass
class Manifest:
    """Manifest rows plus the fixed class order of its multi-hot matrix."""

    rows: pd.DataFrame
    classes: list[str]
    taxonomy: str
    root: str

    @property
    def y(self) -> np.ndarray:
        """Multi-hot labels, shape (n_items, n_classes), in `classes` order."""
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.zeros((len(self.rows), len(self.classes)), dtype=np.float32)
        for r, classes in enumerate(self.rows["classes"]):
            for c in classes:
                y[r, index[c]] = 1.0
        return y

    def __len__(self) -> int:
        return len(self.rows)

    def save(self, path: str | Path) -> Path:
        """Write Parquet atomically; class order and taxonomy travel in the file's metadata."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.rows, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"timbral"] = json.dumps(
            {"classes": self.classes, "taxonomy": self.taxonomy, "root": self.root}
        ).encode()
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(table.replace_schema_metadata(meta), tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        path = Path(path)
        try:
            table = pq.read_table(path)
            info = json.loads(table.schema.metadata[b"timbral"])
        except (OSError, KeyError, TypeError, ValueError, pa.ArrowException) as exc:
            raise DatasetError(f"{path}: not a timbral manifest ({exc})") from None
        rows = table.to_pandas()
        for col in ("fine_labels", "classes"):
            rows[col] = rows[col].map(list)
        return cls(rows=rows, classes=list(info["classes"]), taxonomy=info["taxonomy"], root=info["root"])


def check_labels(tracks: list[Track], taxonomy: Taxonomy) -> None:
    """Raise one error listing every label the taxonomy does not cover and the files carrying it."""
    carriers: dict[str, list[str]] = defaultdict(list)
    for track in tracks:
        for label in track.labels():
            if not taxonomy.covers(label):
                carriers[label].append(track.metadata_path.name)
    if carriers:
        parts = [f"{lab!r} ({', '.join(sorted(set(f)))})" for lab, f in sorted(carriers.items())]
        raise TaxonomyError(
            f"taxonomy {taxonomy.name!r} does not cover {len(carriers)} label(s): "
            + "; ".join(parts)
            + " (pass --skip-unmapped to drop them, or give a taxonomy that maps them)"
        )


def _classes(labels: tuple[str, ...] | list[str], taxonomy: Taxonomy) -> list[str]:
    out = []
    for label in labels:
        if taxonomy.covers(label):
            cls = taxonomy.to_class(label)
            if cls is not None and cls not in out:
                out.append(cls)
    return out


def _kept(labels, taxonomy: Taxonomy) -> list[str]:
    return [lab for lab in labels if taxonomy.covers(lab) and lab not in taxonomy.ignore]


def manifest_from_tracks(
    tracks: list[Track],
    kinds: tuple[str, ...] = KINDS,
    taxonomy: Taxonomy | None = None,
    root: str | Path = "",
    metadata_only: bool = False,
    skip_unmapped: bool = False,
) -> Manifest:
    """Build manifest rows for `tracks`; see `build_manifest`."""
    taxonomy = taxonomy or load_taxonomy()
    kinds = parse_kinds(kinds)
    if not skip_unmapped:
        check_labels(tracks, taxonomy)
    rows = []

    def add(track: Track, kind: str, path, stem_id: str, raw_id: str, labels) -> None:
        fine = _kept(labels, taxonomy)
        classes = _classes(fine, taxonomy)
        if not classes:
            return
        item = "_".join(x for x in (track.track_id, kind.upper(), stem_id, raw_id) if x)
        rows.append({
            "item_id": item, "track_id": track.track_id, "artist": track.artist,
            "title": track.title, "genre": track.genre, "kind": kind,
            "path": str(path) if path is not None else "", "stem_id": stem_id, "raw_id": raw_id,
            "fine_labels": fine, "classes": sorted(classes, key=taxonomy.classes.index),
            "has_bleed": track.has_bleed,
        })

    for track in tracks:
        if "mix" in kinds:
            add(track, "mix", track.mix_path(), "", "", track.labels())
        for stem in track.stems:
            if "stem" in kinds:
                add(track, "stem", track.stem_path(stem), stem.stem_id, "", stem.instruments)
            if "raw" in kinds:
                for raw in stem.raws:
                    add(track, "raw", track.raw_path(raw), stem.stem_id, raw.raw_id, stem.instruments)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not metadata_only:
        _check_audio(frame)
    return Manifest(rows=frame, classes=list(taxonomy.classes), taxonomy=taxonomy.name, root=str(root))


def _check_audio(frame: pd.DataFrame) -> None:
    no_audio = frame["path"] == ""
    if no_audio.any():
        first = frame.loc[no_audio, "track_id"].iloc[0]
        raise DatasetError(
            f"{first}: metadata has no audio beside it; use a MedleyDB root with Audio/ "
            "or metadata-only mode"
        )
    missing = [p for p in frame["path"] if not Path(p).is_file()]
    if missing:
        raise DatasetError(
            f"{missing[0]}: audio file named in the metadata is missing "
            f"({len(missing)} missing in all; choose other kinds or use metadata-only mode)"
        )


def build_manifest(
    root: str | Path,
    kinds: str | tuple[str, ...] = KINDS,
    taxonomy: str | Path | Taxonomy = "macro17",
    tracklist: str | Path | list[str] | None = None,
    metadata_only: bool = False,
    skip_unmapped: bool = False,
) -> Manifest:
    """Read a MedleyDB tree (or a metadata folder) into a Manifest.

    `metadata_only` lists the files the YAML names without requiring the audio to exist.
    """
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)
    tracks = load_tracks(root, tracklist)
    return manifest_from_tracks(
        tracks, parse_kinds(kinds), tax, root=root, metadata_only=metadata_only,
        skip_unmapped=skip_unmapped,
    )
