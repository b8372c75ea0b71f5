"""The reference study's published test figures (its chapter 5 and Table 5.1), for comparison.

They come from a per-file split in which nearly every test stem had a sibling stem, raw file or
mix of the same song in training, so they are optimistic and not comparable one to one with a
song- or artist-grouped split.
"""

from __future__ import annotations

SUMMARY: dict[str, float] = {
    "loss": 0.076,
    "binary_accuracy": 0.9797,
    "auc": 0.9438,  # Keras AUC(multi_label=True): per-class ROC AUC averaged over classes
    "micro_f1": 0.84,
    "macro_f1": 0.80,
    "weighted_f1": 0.83,
    "samples_f1": 0.84,
}

#: Averages of Table 5.1: (precision, recall, f1, support).
AVERAGES: dict[str, tuple[float, float, float, int]] = {
    "micro avg": (0.91, 0.78, 0.84, 535),
    "macro avg": (0.90, 0.73, 0.80, 535),
    "weighted avg": (0.91, 0.78, 0.83, 535),
    "samples avg": (0.85, 0.84, 0.84, 535),
}

#: Table 5.1 per class: (precision, recall, f1, support); names as in the macro17 taxonomy.
PER_CLASS: dict[str, tuple[float, float, float, int]] = {
    "acoustic guitars": (0.88, 0.70, 0.78, 20),
    "bass": (0.93, 0.84, 0.88, 44),
    "brass": (0.77, 0.81, 0.79, 21),
    "drums": (0.93, 0.90, 0.92, 102),
    "electric guitars": (0.92, 0.84, 0.88, 56),
    "electronic fx": (0.80, 0.36, 0.50, 22),
    "electronic keys": (0.86, 0.66, 0.75, 29),
    "folk guitars": (0.80, 0.50, 0.62, 8),
    "free reed": (1.00, 0.60, 0.75, 5),
    "harps": (1.00, 0.67, 0.80, 6),
    "percussion": (0.86, 0.56, 0.68, 32),
    "piano": (0.97, 0.78, 0.86, 40),
    "pitched percussion": (0.75, 0.82, 0.78, 11),
    "strings": (0.91, 0.82, 0.86, 38),
    "system": (1.00, 1.00, 1.00, 4),
    "voice": (0.95, 0.85, 0.90, 74),
    "woodwinds": (0.89, 0.74, 0.81, 23),
}

CAVEAT = (
    "These figures were published by the reference study for its own test set. Its split was "
    "made per file, not per song: siblings of nearly every test stem (other stems, raw tracks or "
    "the mix of the same song) were in its training set, so the model had heard each test song "
    "before. They are therefore optimistic, and not comparable one to one with timbral's "
    "artist-grouped split."
)
