"""Dataset layer: MedleyDB parsing, manifest, audio segments, features, splits, balancing."""
