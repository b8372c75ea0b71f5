"""Count tables of the metadata analysis: label distribution, instrument x genre, co-occurrence.

Per-file counts come from a manifest (a mix, stem or raw file counts once per class it carries).
Per-song tables come from `song_table`: one row per song with its genre and the labels of its
stems, so a song's genre and its instruments always travel in the same row.
"""

from __future__ import annotations

import pandas as pd

from timbral.data.manifest import KINDS, Manifest
from timbral.data.medleydb import Track
from timbral.taxonomy import Taxonomy


def song_table(tracks: list[Track], taxonomy: Taxonomy) -> pd.DataFrame:
    """One row per song: track_id, genre, fine labels (ignored or unmapped ones dropped), classes."""
    records = []
    for track in tracks:
        fine = [lab for lab in track.labels() if taxonomy.covers(lab) and lab not in taxonomy.ignore]
        classes = sorted({taxonomy.to_class(lab) for lab in fine}, key=taxonomy.classes.index)
        records.append(
            {"track_id": track.track_id, "genre": track.genre, "fine": fine, "classes": classes}
        )
    return pd.DataFrame(records, columns=["track_id", "genre", "fine", "classes"])


def fine_order(labels, taxonomy: Taxonomy) -> list[str]:
    """Fine labels grouped by their class (in the table's class order), then alphabetical."""
    rank = {c: i for i, c in enumerate(taxonomy.classes)}
    return sorted(set(labels), key=lambda lab: (rank[taxonomy.mapping[lab]], lab.lower()))


def class_counts_by_kind(manifest: Manifest) -> pd.DataFrame:
    """Files per class (rows, in class order) and kind (columns mix, stem, raw)."""
    rows = manifest.rows[["kind", "classes"]].explode("classes")
    table = pd.crosstab(rows["classes"], rows["kind"]) if len(rows) else pd.DataFrame()
    table = table.reindex(index=manifest.classes, columns=list(KINDS), fill_value=0)
    table.index.name, table.columns.name = "class", None
    return table.fillna(0).astype(int)


def label_counts(manifest: Manifest) -> pd.DataFrame:
    """Columns `class,count`: files carrying each class, every class of the table listed."""
    counts = class_counts_by_kind(manifest).sum(axis=1)
    return pd.DataFrame({"class": counts.index, "count": counts.to_numpy()})


def fine_label_counts(manifest: Manifest, taxonomy: Taxonomy) -> pd.DataFrame:
    """Columns `label,class,count`: files carrying each fine label present in the manifest."""
    labels = manifest.rows["fine_labels"].explode().dropna()
    counts = labels.value_counts()
    order = fine_order(counts.index, taxonomy)
    return pd.DataFrame({
        "label": order,
        "class": [taxonomy.mapping[lab] for lab in order],
        "count": [int(counts[lab]) for lab in order],
    })


def genre_matrix(songs: pd.DataFrame, column: str, order: list[str]) -> pd.DataFrame:
    """Songs of each genre (columns, alphabetical) in which each label (rows, `order`) appears."""
    pairs = songs[["genre", column]].explode(column).dropna()
    table = pd.crosstab(pairs[column], pairs["genre"]) if len(pairs) else pd.DataFrame()
    genres = sorted(songs["genre"].unique())
    table = table.reindex(index=order, columns=genres, fill_value=0).fillna(0).astype(int)
    table.index.name, table.columns.name = "instrument", "genre"
    return table


def cooccurrence(songs: pd.DataFrame, column: str, order: list[str]) -> pd.DataFrame:
    """Songs in which both labels appear (the diagonal: songs in which the label appears)."""
    pairs = songs[["track_id", column]].explode(column).dropna()
    onehot = pd.crosstab(pairs["track_id"], pairs[column]) if len(pairs) else pd.DataFrame()
    onehot = (onehot.reindex(columns=order, fill_value=0).fillna(0) > 0).astype(int)
    table = onehot.T @ onehot
    table = table.reindex(index=order, columns=order, fill_value=0).astype(int)
    table.index.name, table.columns.name = "instrument", None
    return table
