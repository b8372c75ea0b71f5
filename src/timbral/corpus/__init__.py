"""The embedded default corpus: MedleyDB's real songs, stems and activity, rendered with
sampled instruments into MedleyDB's own layout.

    from timbral.corpus import render_corpus
    render_corpus(Path("corpus"), preset="tiny")
"""

from __future__ import annotations

from timbral.corpus.presets import PRESETS, Preset
from timbral.corpus.render import render_corpus

__all__ = ["PRESETS", "Preset", "render_corpus"]
