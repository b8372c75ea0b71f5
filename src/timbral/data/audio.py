"""Read audio segments: decode only the requested frames, downmix, resample, peak-normalise.

Also a cheap energy scan of a whole file (for choosing the most active window): short probes
at regular intervals, or (FLAC, or on request) every frame read blockwise at the native rate.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from timbral.errors import AudioError

# Uncompressed subtypes: reading every frame costs little more than copying bytes.
_PCM_SUBTYPES = ("PCM_", "FLOAT", "DOUBLE", "ULAW", "ALAW")
_SF_ERRORS = (sf.LibsndfileError, RuntimeError, OSError, ValueError)
# Extra native audio read on each side of a window before resampling, so the resampler's
# edge transient falls outside the kept samples (soxr HQ needs a few milliseconds).
RESAMPLE_MARGIN_SECONDS = 0.05


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sr: int
    frames: int
    channels: int
    format: str = ""
    subtype: str = ""

    @property
    def duration(self) -> float:
        return self.frames / self.sr if self.sr else 0.0

    @property
    def compressed(self) -> bool:
        """True for formats whose decoding costs far more than reading bytes (FLAC, OGG, MP3)."""
        return self.format in ("FLAC", "OGG", "MP3") or not self.subtype.startswith(_PCM_SUBTYPES)


def _reason(exc: Exception) -> str:
    text = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return text[-1] if text else type(exc).__name__


def _truncated_wav(extra_info: str) -> tuple[int, int] | None:
    """(declared, present) data bytes when a WAV header promises more data than the file holds."""
    m = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", extra_info, re.MULTILINE)
    if not m:
        return None
    declared, present = int(m.group(1)), int(m.group(2))
    placeholder = declared in (0, 0xFFFFFFFF) or declared >= 2**31 - 1
    return (declared, present) if present < declared and not placeholder else None


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, length and channels, read from the header; AudioError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except _SF_ERRORS as exc:
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(f"{path}: invalid header (sr={info.samplerate}, channels={info.channels})")
    trunc = _truncated_wav(info.extra_info or "")
    if trunc:
        raise AudioError(
            f"{path}: truncated audio file (header declares {trunc[0]} data bytes, "
            f"file holds {trunc[1]})"
        )
    frames = int(info.frames)
    if frames <= 0 or frames >= 2**62:  # unknown length (some MP3 headers): count by decoding
        frames = _count_frames(path)
    if frames == 0:
        raise AudioError(f"{path}: empty audio file (no samples)")
    return AudioInfo(
        str(path), int(info.samplerate), frames, int(info.channels),
        str(info.format), str(info.subtype),
    )


def _count_frames(path: Path) -> int:
    total = 0
    try:
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(blocksize=1 << 16):
                total += len(block)
    except _SF_ERRORS as exc:
        raise AudioError(f"{path}: corrupt audio ({_reason(exc)})") from None
    return total


def to_mono(block: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) block as float32. Summing columns is much
    faster than `mean(axis=1)` or a BLAS matrix-vector product on interleaved frames."""
    if block.ndim == 1:
        return block.astype(np.float32, copy=False)
    mono = block[:, 0].astype(np.float32)  # a copy
    for c in range(1, block.shape[1]):
        mono += block[:, c]
    if block.shape[1] > 1:
        mono *= np.float32(1.0 / block.shape[1])
    return mono


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return y.astype(np.float32, copy=False)
    return soxr.resample(y, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def peak_normalize(y: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y / peak).astype(np.float32) if peak > 0 else y.astype(np.float32, copy=False)


def _open(path: str | Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path))
    except _SF_ERRORS as exc:
        raise AudioError(f"{path}: not a readable audio file ({_reason(exc)})") from None


def read_frames(
    path: str | Path, start: int, frames: int, info: AudioInfo | None = None
) -> tuple[np.ndarray, int]:
    """Decode `frames` frames from `start` (seeking, not decoding what comes before) as mono.

    Reading past the end returns what is there; a file that yields fewer frames than its header
    promises is reported as truncated.
    """
    info = info or audio_info(path)
    start = max(0, int(start))
    expected = max(0, min(frames, info.frames - start))
    with _open(path) as f:
        try:
            if start >= info.frames:
                return np.zeros(0, dtype=np.float32), info.sr
            if start > 0:
                f.seek(start)
            # 16-bit PCM is read as integers (a plain copy) and scaled here: much cheaper
            as_int = info.subtype == "PCM_16"
            block = f.read(expected, dtype="int16" if as_int else "float32", always_2d=True)
        except _SF_ERRORS as exc:
            raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})") from None
    if len(block) < expected:
        raise AudioError(
            f"{path}: truncated or corrupt audio (header says {info.frames} frames, "
            f"decoding stopped at frame {start + len(block)})"
        )
    mono = to_mono(block)
    if as_int:
        mono *= np.float32(1.0 / 32768.0)
    return mono, info.sr


def _margin_frames(sr_in: int, sr_out: int) -> int:
    """Native frames of resampling margin, a multiple of the rates' common period if it is short,
    so the margin maps to a whole number of output samples."""
    period = sr_in // math.gcd(sr_in, sr_out)
    want = int(RESAMPLE_MARGIN_SECONDS * sr_in)
    return (want // period + 1) * period if period <= want else want


def load_segment(
    path: str | Path,
    start: float = 0.0,
    duration: float | None = None,
    sr: int = 22050,
    normalize: bool = True,
    info: AudioInfo | None = None,
) -> np.ndarray:
    """Mono float32 audio at `sr` from `start` seconds, `duration` long (zero-padded at the end).

    Only the frames of the window (plus a few milliseconds either side for the resampler) are
    decoded, so the result matches resampling the whole file and slicing it.
    `duration=None` reads to the end of the file.
    """
    info = info or audio_info(path)
    first = max(0, int(round(start * info.sr)))
    count = info.frames - first if duration is None else int(round(duration * info.sr))
    count = max(count, 0)
    margin = _margin_frames(info.sr, sr) if info.sr != sr else 0
    lead = min(margin, first)
    y, native_sr = read_frames(path, first - lead, lead + count + margin, info)
    y = resample(y, native_sr, sr)
    skip = int(round(lead * sr / native_sr))
    n = int(round(count * sr / native_sr)) if duration is None else int(round(duration * sr))
    y = y[skip : skip + n]
    if len(y) < n:
        y = np.pad(y, (0, n - len(y)))
    return peak_normalize(y) if normalize else np.ascontiguousarray(y, dtype=np.float32)


def load_audio(path: str | Path, info: AudioInfo | None = None) -> tuple[np.ndarray, int]:
    """The whole file as mono float32 at its native rate, decoded blockwise (for the
    threshold rule, which needs every sample)."""
    info = info or audio_info(path)
    out = np.empty(info.frames, dtype=np.float32)
    pos = 0
    with _open(path) as f:
        try:
            for block in f.blocks(blocksize=1 << 17, dtype="float32", always_2d=True):
                mono = to_mono(block)[: info.frames - pos]
                out[pos : pos + len(mono)] = mono
                pos += len(mono)
        except _SF_ERRORS as exc:
            raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})") from None
    _check_complete(path, info, pos)
    return out, info.sr


@dataclass(frozen=True)
class EnergyScan:
    """Per-hop RMS (`rms`) and peak (`peak`) of a file's mono signal at its native rate.

    `exact` is True when every frame was read (a full scan); a probed scan estimates each hop's
    level from a short read at its start, so its `peak` may miss short events.
    """

    rms: np.ndarray
    peak: np.ndarray
    hop_s: float
    exact: bool


SCAN_HOP_SECONDS = 0.1  # energy resolution of a full scan
PROBE_HOP_SECONDS = 1.0  # a probed scan reads one probe per this many seconds ...
PROBE_SECONDS = 0.1  # ... this long in PCM files (a tenth of the file) ...
PROBE_FRAMES_COMPRESSED = 2048  # ... and this many frames in OGG/MP3 (decoding costs more)


def scan_energy(
    path: str | Path,
    hop_s: float = SCAN_HOP_SECONDS,
    info: AudioInfo | None = None,
    mode: str = "auto",
) -> EnergyScan:
    """RMS and peak per hop over the whole file, cheaply.

    mode "full": read every frame blockwise at the native rate (16-bit files as integers, the
    cheapest read), RMS and peak over every 4th frame (the mean square of a subsample estimates
    the mean square of all samples), `hop_s` resolution.
    mode "probe": one short read every `PROBE_HOP_SECONDS` (0.1 s of each second of a PCM file,
    2048 frames of OGG/MP3), which reads a tenth of the file or less.
    mode "auto": "full" for FLAC (its seeks cost about as much as decoding everything),
    "probe" otherwise. `benchmarks/features.py` measures both on 4-minute songs.
    """
    info = info or audio_info(path)
    if mode == "auto":
        mode = "full" if info.format == "FLAC" else "probe"
    if mode == "probe":
        return _probe_energy(path, info)
    if mode != "full":
        raise ValueError(f"scan_energy: unknown mode {mode!r}")
    step = 4 if hop_s * info.sr >= 64 else 1
    hop = max(step, int(round(hop_s * info.sr / step)) * step)  # a whole number of steps
    n_hops = max(1, math.ceil(info.frames / hop))
    rms = np.zeros(n_hops, dtype=np.float32)
    peak = np.zeros(n_hops, dtype=np.float32)
    as_int = info.subtype == "PCM_16"
    dtype, scale = ("int16", np.float32(1.0 / 32768.0)) if as_int else ("float32", np.float32(1))
    block = max(1, (1 << 18) // hop) * hop
    per = hop // step
    buf = np.empty((block, info.channels), dtype=dtype)
    k = pos = 0
    with _open(path) as f:
        try:
            while pos < info.frames:
                got = f.read(block, dtype=dtype, always_2d=True, out=buf)
                if len(got) == 0:
                    break
                sub = got[::step]
                mono = sub[:, 0].astype(np.float32)
                for c in range(1, info.channels):
                    mono += sub[:, c]
                mono *= scale / info.channels
                m = min(math.ceil(len(mono) / per), n_hops - k)
                full = min(m, len(mono) // per)
                body = mono[: full * per].reshape(full, per)
                rms[k : k + full] = np.sqrt(np.einsum("ij,ij->i", body, body) / per)
                peak[k : k + full] = np.abs(body).max(axis=1) if full else 0
                if m > full:  # the file's last, partial hop
                    tail = mono[full * per :]
                    rms[k + full] = np.sqrt(np.mean(tail * tail))
                    peak[k + full] = np.abs(tail).max()
                k += m
                pos += len(got)
        except _SF_ERRORS as exc:
            raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})") from None
    _check_complete(path, info, pos)
    return EnergyScan(rms, peak, hop / info.sr, exact=True)


def wav_layout(path: str | Path, info: AudioInfo) -> tuple[int, np.dtype] | None:
    """(byte offset of the first frame, sample dtype) of a 16-bit or float WAV file whose
    frames can be read as plain bytes, from scipy's WAV parser; None for anything else."""
    if info.format != "WAV" or info.subtype not in ("PCM_16", "FLOAT"):
        return None
    from scipy.io import wavfile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown chunks are fine here
            _, data = wavfile.read(str(path), mmap=True)
        layout = int(data.offset), data.dtype
        shape = data.shape
        del data  # closes the mapping
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    channels = shape[1] if len(shape) == 2 else 1
    expected = np.dtype("<i2") if info.subtype == "PCM_16" else np.dtype("<f4")
    if layout[1] != expected or shape[0] != info.frames or channels != info.channels:
        return None
    return layout


def _read_probes(
    path: str | Path, info: AudioInfo, starts: range, probe: int, dtype: str
) -> tuple[np.ndarray, np.ndarray]:
    """(probes, frames read per probe): `probe` frames from each start, zero-padded."""
    buf = np.zeros((len(starts), probe, info.channels), dtype=dtype)
    lengths = np.zeros(len(starts), dtype=np.int64)
    layout = wav_layout(path, info)
    if layout is not None:  # plain reads of the bytes: no per-call decoder overhead
        offset, sample = layout
        frame_bytes = sample.itemsize * info.channels
        with open(path, "rb") as fh:
            for i, s in enumerate(starts):
                fh.seek(offset + s * frame_bytes)
                lengths[i] = fh.readinto(buf[i, : info.frames - s]) // frame_bytes
        return buf, lengths
    with _open(path) as f:
        try:
            for i, s in enumerate(starts):
                f.seek(s)
                lengths[i] = len(f.read(min(probe, info.frames - s), dtype=dtype,
                                        always_2d=True, out=buf[i, : info.frames - s]))
        except _SF_ERRORS as exc:
            raise AudioError(f"{path}: cannot decode audio ({_reason(exc)})") from None
    return buf, lengths


def _probe_energy(path: str | Path, info: AudioInfo) -> EnergyScan:
    hop = max(1, int(round(PROBE_HOP_SECONDS * info.sr)))
    probe = PROBE_FRAMES_COMPRESSED if info.compressed else int(PROBE_SECONDS * info.sr)
    probe = max(1, min(probe, hop))
    as_int = info.subtype == "PCM_16"
    dtype, scale = ("int16", 1.0 / 32768.0) if as_int else ("float32", 1.0)
    # reads first; the arithmetic is done once, on all probes
    buf, lengths = _read_probes(path, info, range(0, info.frames, hop), probe, dtype)
    step = 4 if probe >= 256 else 1  # as in the full scan: every 4th frame
    sub = buf[:, ::step]
    mono = sub[..., 0].astype(np.float32)
    for c in range(1, info.channels):
        mono += sub[..., c]
    mono *= np.float32(scale / info.channels)
    counts = np.maximum(np.ceil(lengths / step), 1)
    rms = np.sqrt(np.einsum("ij,ij->i", mono, mono) / counts).astype(np.float32)
    peak = np.abs(mono).max(axis=1)
    return EnergyScan(rms, peak, hop / info.sr, exact=False)


def _check_complete(path: str | Path, info: AudioInfo, decoded: int) -> None:
    """Raise if decoding stopped before the frame count the header promised."""
    if decoded < info.frames:
        raise AudioError(
            f"{path}: truncated or corrupt audio (header says {info.frames} frames, "
            f"decoding stopped at frame {decoded})"
        )
