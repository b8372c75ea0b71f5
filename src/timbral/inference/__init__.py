"""Tag any recording: instruments present and a per-window timeline (see `Tagger`)."""

from timbral.inference.files import find_audio_files
from timbral.inference.result import TagResult
from timbral.inference.sources import AUDIO_EXTENSIONS
from timbral.inference.tagger import Tagger

__all__ = ["AUDIO_EXTENSIONS", "TagResult", "Tagger", "find_audio_files"]
