"""Read audio segments: decode only the requested frames, downmix, resample, peak-normalise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from timbral.errors import AudioError


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sr: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sr if self.sr else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, length and channels, read from the header; AudioError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    frames = int(info.frames)
    if frames <= 0 or frames >= 2**62:  # unknown length (some MP3 headers): count by decoding
        frames = _count_frames(path)
    if frames == 0:
        raise AudioError(f"{path}: empty audio file (no samples)")
    return AudioInfo(str(path), int(info.samplerate), frames, int(info.channels))


def _count_frames(path: Path) -> int:
    total = 0
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(blocksize=1 << 16):
                total += len(block)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: corrupt audio ({_reason(exc)})") from None
    return total


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def to_mono(block: np.ndarray) -> np.ndarray:
    return block.mean(axis=1) if block.ndim == 2 else block


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return y.astype(np.float32, copy=False)
    return soxr.resample(y, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def peak_normalize(y: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y / peak).astype(np.float32) if peak > 0 else y.astype(np.float32, copy=False)


def read_frames(path: str | Path, start: int, frames: int) -> tuple[np.ndarray, int]:
    """Decode `frames` frames from `start` (seeking, not decoding what comes before) as mono."""
    try:
        with sf.SoundFile(str(path)) as f:
            sr = f.samplerate
            if start > 0:
                f.seek(min(start, max(f.frames - 1, 0)) if f.frames > 0 else start)
            block = f.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})") from None
    return to_mono(block), sr


def load_segment(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    sr: int = 22050,
    normalize: bool = True,
) -> np.ndarray:
    """Mono float32 audio at `sr` from `start` seconds, `duration` long (zero-padded at the end).

    Only the frames of the window are decoded. `duration=None` reads to the end of the file.
    """
    info = audio_info(path)
    first = max(0, int(round(start * info.sr)))
    count = info.frames - first if duration is None else int(round(duration * info.sr))
    y, native_sr = read_frames(path, first, max(count, 0))
    y = resample(y, native_sr, sr)
    if duration is not None:
        n = int(round(duration * sr))
        y = np.pad(y[:n], (0, max(0, n - len(y))))
    return peak_normalize(y) if normalize else y
