"""timbral: which instruments play in a recording, and when.

    from timbral import Tagger
    result = Tagger.load("model.pt").predict("song.wav")
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Tagger", "__version__"]


def __getattr__(name: str):
    # Lazy: importing timbral stays fast; torch loads only when tagging.
    if name == "Tagger":
        from timbral.inference import Tagger

        return Tagger
    raise AttributeError(name)
