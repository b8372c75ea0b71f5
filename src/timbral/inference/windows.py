"""Stream the analysis windows of a source: decode block by block, downmix, resample
incrementally (soxr), and cut windows of the training segment length at the planned starts.

Only the resampled audio that a window still to come needs is kept (a window plus one block),
so memory does not grow with the length of the file.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soxr

from timbral.data.audio import to_mono
from timbral.data.segments import window_starts
from timbral.errors import AudioError
from timbral.inference.sources import BLOCK_FRAMES, Source

ENVELOPE_BINS = 2000  # resolution of the waveform envelope kept for plots


@dataclass
class Window:
    """One analysis window: `samples` (mono float32 at the model's rate, zero-padded past the
    end of the audio) covering [`start`, `end`) seconds; `peak` is its largest |sample|."""

    index: int
    start: float
    end: float
    samples: np.ndarray
    peak: float


def plan_windows(duration: float, window: float, hop: float) -> list[float]:
    """Window start times (seconds) for a file of `duration` seconds: the shared training rule."""
    starts = sorted(float(s) for s in window_starts(duration, window, hop))
    return starts or [0.0]


class WindowStream:
    """Iterate the windows of `source` at sample rate `sr`, `window` seconds long every `hop`
    seconds. After iteration, `envelope` holds the peak |amplitude| per time bin (for plots),
    `max_buffered` the most resampled samples held at once and `max_chunk` the largest block
    the resampler returned (max_buffered < window + 2 * max_chunk)."""

    def __init__(self, source: Source, sr: int, window: float, hop: float,
                 block_frames: int = BLOCK_FRAMES) -> None:
        self.source, self.sr, self.block_frames = source, int(sr), block_frames
        self.window_samples = int(round(window * sr))
        self.duration = source.duration
        self.starts = plan_windows(self.duration, window, hop)
        self.padded = self.duration < window
        self.max_buffered = 0  # < window + 2 * max_chunk, whatever the length of the file
        self.max_chunk = 0
        expected = max(1, round(source.frames * self.sr / source.sr))
        self.envelope_bin = max(1, math.ceil(expected / ENVELOPE_BINS))
        self.envelope = np.zeros(0, dtype=np.float32)

    def _resampled(self) -> Iterator[np.ndarray]:
        """Mono chunks at `sr`, in order, checked for non-finite samples."""
        rs = None
        if self.source.sr != self.sr:
            rs = soxr.ResampleStream(self.source.sr, self.sr, 1, dtype="float32", quality="HQ")
        for block in self.source.blocks(self.block_frames):
            mono = np.ascontiguousarray(to_mono(block), dtype=np.float32)
            if not np.isfinite(mono).all():
                raise AudioError(f"{self.source.name}: audio contains NaN or infinite samples")
            yield rs.resample_chunk(mono) if rs is not None else mono
        if rs is not None:
            yield rs.resample_chunk(np.zeros(0, dtype=np.float32), last=True)

    def __iter__(self) -> Iterator[Window]:
        W = self.window_samples
        starts = [int(round(s * self.sr)) for s in self.starts]
        # (absolute index of the first sample, samples, length of the chunk they belong to)
        chunks: deque[tuple[int, np.ndarray, int]] = deque()
        held = received = 0
        env_parts, env_carry = [], np.zeros(0, dtype=np.float32)
        nxt = 0

        def cut(first: int) -> np.ndarray:
            out = np.zeros(W, dtype=np.float32)
            for c0, c, _ in chunks:
                lo, hi = max(first, c0), min(first + W, c0 + len(c))
                if lo < hi:
                    out[lo - first:hi - first] = c[lo - c0:hi - c0]
            return out

        def emit(i: int) -> Window:
            samples = cut(starts[i])
            end = min(self.starts[i] + W / self.sr, self.duration)
            peak = max(float(samples.max()), -float(samples.min()))  # no |y| copy
            return Window(i, self.starts[i], end, samples, peak)

        for chunk in self._resampled():
            if not len(chunk):
                continue
            c0, received = received, received + len(chunk)
            self.max_chunk = max(self.max_chunk, len(chunk))
            env_carry = np.concatenate([env_carry, np.abs(chunk)])
            full = len(env_carry) // self.envelope_bin * self.envelope_bin
            if full:
                env_parts.append(env_carry[:full].reshape(-1, self.envelope_bin).max(axis=1))
                env_carry = env_carry[full:]
            keep_from = starts[nxt] if nxt < len(starts) else received
            if received > keep_from:  # (a view keeps its whole chunk alive: count it all)
                part = chunk[max(0, keep_from - c0):]
                chunks.append((received - len(part), part, len(chunk)))
                held += len(chunk)
                self.max_buffered = max(self.max_buffered, held)
            while nxt < len(starts) and starts[nxt] + W <= received:
                yield emit(nxt)
                nxt += 1
                keep_from = starts[nxt] if nxt < len(starts) else received
                while chunks and chunks[0][0] + len(chunks[0][1]) <= keep_from:
                    held -= chunks.popleft()[2]
        while nxt < len(starts):  # the end of the audio: zero-pad what is missing
            yield emit(nxt)
            nxt += 1
        if len(env_carry):
            env_parts.append(np.array([env_carry.max()], dtype=np.float32))
        self.envelope = np.concatenate(env_parts) if env_parts else np.zeros(1, np.float32)
