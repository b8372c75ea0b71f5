"""Metadata analysis: label distribution, instrument x genre and co-occurrence, no audio needed."""

from timbral.analysis.metadata import analyze
from timbral.analysis.tables import (
    class_counts_by_kind,
    cooccurrence,
    fine_label_counts,
    genre_matrix,
    label_counts,
    song_table,
)

__all__ = [
    "analyze", "class_counts_by_kind", "cooccurrence", "fine_label_counts", "genre_matrix",
    "label_counts", "song_table",
]
