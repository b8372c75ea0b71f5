"""Audio sources for tagging: a file read block by block, or an array already in memory.

A source knows its native sample rate, channel count and length, and yields float32 blocks of
shape (frames, channels). Every problem with a file (missing, unreadable, empty, not audio,
corrupt, truncated, non-finite samples) raises `AudioError` with a one-line message naming it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from timbral.data.audio import audio_info
from timbral.errors import AudioError, ConfigError

BLOCK_FRAMES = 1 << 17  # frames per decoded block (about 3 s at 44.1 kHz)

# Extensions looked for when a directory is walked (formats libsndfile decodes).
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
     ".au", ".snd", ".caf", ".w64", ".rf64"}
)


@dataclass
class Source:
    """Where audio comes from: `name` (a path or "<array>"), native `sr`, `channels`, `frames`."""

    name: str
    sr: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sr

    def blocks(self, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        raise NotImplementedError


class ArraySource(Source):
    """Audio already in memory: (samples,) or (samples, channels) float, at `sr`."""

    def __init__(self, y: np.ndarray, sr: int, name: str = "<array>") -> None:
        self.y = as_frames(y, name)
        super().__init__(name=name, sr=_check_sr(sr, name), channels=self.y.shape[1],
                         frames=self.y.shape[0])

    def blocks(self, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        for i in range(0, self.frames, block_frames):
            yield self.y[i:i + block_frames]


class FileSource(Source):
    """An audio file decoded block by block with soundfile (never the whole file at once)."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        _check_path(path)
        try:
            with quiet_native_stderr():
                info = audio_info(path)  # missing, directory, empty, not audio, truncated WAV
                _check_complete(path)
        except AudioError as exc:
            raise AudioError(_tidy(str(exc), path)) from None
        super().__init__(name=str(path), sr=info.sr, channels=info.channels, frames=info.frames)
        self.path = path

    def blocks(self, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        done = 0
        try:
            with quiet_native_stderr():
                f = sf.SoundFile(str(self.path))
            with f:
                blocks = f.blocks(blocksize=block_frames, dtype="float32", always_2d=True)
                while True:
                    with quiet_native_stderr():
                        block = next(blocks, None)
                    if block is None:
                        break
                    done += len(block)
                    yield block
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioError(_tidy(
                f"{self.path}: corrupt or truncated audio (decoding failed after "
                f"{done / self.sr:.1f} s: {_reason(exc)})", self.path)) from None
        if done < self.frames:
            raise AudioError(
                f"{self.path}: truncated audio: the header promises {self.duration:.1f} s, "
                f"only {done / self.sr:.1f} s could be decoded"
            )


def open_source(audio: str | Path | np.ndarray, sr: int | None = None) -> Source:
    """A `Source` for a path or an array (`sr` is required for an array, ignored for a file)."""
    if isinstance(audio, np.ndarray):
        if sr is None:
            raise ConfigError("an audio array needs its sample rate: predict(y, sr=...)")
        return ArraySource(audio, sr)
    if isinstance(audio, (str, os.PathLike)):
        return FileSource(audio)
    raise ConfigError(f"cannot tag a {type(audio).__name__}: pass a file path or a numpy array")


def as_frames(y: np.ndarray, name: str = "<array>") -> np.ndarray:
    """(frames, channels) float32. Channels may be on either axis of a 2-D array: the shorter one."""
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer):
        y = y.astype(np.float32) / float(np.iinfo(y.dtype).max + 1)
    elif not np.issubdtype(y.dtype, np.floating):
        raise AudioError(f"{name}: audio must be numeric, not {y.dtype}")
    if y.ndim == 1:
        y = y[:, None]
    elif y.ndim == 2:
        if y.shape[0] < y.shape[1]:
            y = y.T
    else:
        raise AudioError(f"{name}: audio must be 1-D or 2-D, got shape {y.shape}")
    if y.shape[0] == 0 or y.shape[1] == 0:
        raise AudioError(f"{name}: empty audio (no samples)")
    return np.ascontiguousarray(y, dtype=np.float32)


def _check_sr(sr: int, name: str) -> int:
    ok = isinstance(sr, (int, float, np.integer, np.floating)) and not isinstance(sr, bool)
    if not ok or not sr > 0 or int(sr) != sr:
        raise ConfigError(f"{name}: sample rate must be a positive integer, got {sr!r}")
    return int(sr)


def _check_path(path: Path) -> None:
    """Problems libsndfile would only report as a vague "system error"."""
    if path.is_file():
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise AudioError(f"{path}: cannot open ({exc.strerror or type(exc).__name__})") from None


def _check_complete(path: Path) -> None:
    """Refuse an Ogg stream that stops without its end page (libsndfile would read it silently
    shortened); `audio_info` already refuses WAV files shorter than their header says."""
    try:
        extra = sf.info(str(path)).extra_info or ""
    except (sf.LibsndfileError, RuntimeError, OSError):
        return  # audio_info already accepted the file; nothing more to learn here
    if "lacks an end-of-stream" in extra:
        raise AudioError(f"{path}: truncated file (the Ogg stream stops before its end)")


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1].strip().removeprefix("Error : ") if text else type(exc).__name__


def _tidy(message: str, path: Path) -> str:
    """libsndfile's messages repeat the path and call unrecognised data "not a regular file"."""
    message = message.replace(f"Error opening {str(path)!r}: ", "")
    return message.replace("File does not exist or is not a regular file (possibly a pipe?).",
                           "format not recognised")


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native decoders (mpg123) print on file descriptor 2 while they run, so
    a bad file gives exactly one error line."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr descriptor at all
        yield
        return
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
