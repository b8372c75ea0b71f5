"""`analyze`: write the metadata analysis (CSV tables and PNG heatmaps) for a set of tracks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from timbral import resources
from timbral.analysis import plots, tables
from timbral.data.manifest import KINDS, manifest_from_tracks, parse_kinds
from timbral.data.medleydb import load_tracks
from timbral.errors import ConfigError
from timbral.taxonomy import DEFAULT, Taxonomy, load_taxonomy


def _write_csv(frame: pd.DataFrame, path: Path, index: bool) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=index)
    tmp.replace(path)
    return path


def analyze(
    metadata: str | Path | None = None,
    tracks: str | Path | list[str] | None = None,
    kinds: str | tuple[str, ...] = KINDS,
    taxonomy: str | Path | Taxonomy = DEFAULT,
    out: str | Path | None = None,
    skip_unmapped: bool = False,
    figures: bool = True,
) -> dict[str, Path]:
    """Analyse MedleyDB metadata (no audio); returns {file name: path} of everything written.

    `metadata` is a MedleyDB root (with `Audio/`) or a folder of `*_METADATA.yaml` files; by
    default the real metadata shipped by `medleydb-instruments`. `tracks` selects songs (a file
    with one `Artist_Title` per line, or a list). `kinds` chooses which files the per-file
    counts cover; the genre and co-occurrence tables count songs. `figures=False` writes the
    tables only.
    """
    if out is None:
        raise ConfigError("analyze: an output folder (`out`) is required")
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)
    kinds = parse_kinds(kinds)
    root = Path(metadata) if metadata is not None else resources.metadata_dir()
    songs_list = load_tracks(root, tracks)
    manifest = manifest_from_tracks(
        songs_list, kinds, tax, root=root, metadata_only=True, skip_unmapped=skip_unmapped
    )
    songs = tables.song_table(songs_list, tax)
    fine_labels = tables.fine_order({lab for labs in songs["fine"] for lab in labs}, tax)
    classes = list(tax.classes)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def csv(name: str, frame: pd.DataFrame, index: bool = False) -> None:
        written[name] = _write_csv(frame, out / name, index)

    def png(name: str, draw, *args, **kwargs) -> None:
        if figures:
            written[name] = plots.save_png(draw(*args, **kwargs), out / name)

    by_kind = tables.class_counts_by_kind(manifest)
    counts = tables.label_counts(manifest)
    fine_counts = tables.fine_label_counts(manifest, tax)
    csv("label_counts.csv", counts)
    csv("label_counts_by_kind.csv", by_kind, index=True)
    csv("fine_label_counts.csv", fine_counts)
    what = f"{len(songs)} songs, {', '.join(kinds)} files"
    png("label_distribution.png", plots.label_distribution, by_kind, fine_counts,
        title=f"files per class ({what})")

    n_songs = f"{len(songs)} songs"
    per_genre = songs["genre"].value_counts()
    genre_names = {g: f"{g} ({per_genre[g]})" for g in per_genre.index}
    for level, column, order in (("fine", "fine", fine_labels), ("macro", "classes", classes)):
        labels = "fine labels" if level == "fine" else f"{tax.name} classes"
        groups = [tax.mapping[lab] for lab in order] if level == "fine" else None
        genre = tables.genre_matrix(songs, column, order)
        csv(f"genre_instrument_{level}.csv", genre, index=True)
        named = genre.rename(columns=genre_names)  # with each genre's song count
        png(f"genre_instrument_{level}.png", plots.heatmap, named, groups=groups,
            title=f"songs per genre and instrument ({labels}, {n_songs})")
        cooc = tables.cooccurrence(songs, column, order)
        csv(f"cooccurrence_{level}.csv", cooc, index=True)
        png(f"cooccurrence_{level}.png", plots.heatmap, cooc, log=True, groups=groups,
            title=f"songs in which both instruments appear ({labels}, {n_songs})")

    summary = {
        "metadata": str(root),
        "taxonomy": tax.name,
        "kinds": list(kinds),
        "n_songs": len(songs),
        "n_files": len(manifest),
        "n_labels": int(counts["count"].sum()),
        "n_classes": len(classes),
        "n_fine_labels": len(fine_labels),
        "genres": songs["genre"].value_counts().sort_index().to_dict(),
    }
    tmp = out / ".summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    written["summary.json"] = tmp.replace(out / "summary.json")
    return written
