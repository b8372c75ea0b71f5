"""Material that is not simply notes on an instrument: processed effects, sampler chops,
turntable scratches. Each builds on SoundFont-rendered source material (`render(notes)`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pedalboard as pb

from timbral.corpus import effects
from timbral.corpus.parts import Note, comp_part, pad_part
from timbral.corpus.plan import SongPlan

SR = 44100
Render = Callable[[list], np.ndarray]


def _fade(y: np.ndarray, ms: float = 2.0) -> np.ndarray:
    k = min(len(y) // 2, int(ms * SR / 1000))
    if k > 0:
        ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
        y = y.copy()
        y[:k] *= ramp
        y[-k:] *= ramp[::-1]
    return y


def _pitch(y: np.ndarray, ratio: float) -> np.ndarray:
    """Varispeed by `ratio` (2 = an octave up, half as long)."""
    if ratio == 1.0 or len(y) < 2:
        return y
    pos = np.arange(0, len(y) - 1, ratio)
    return np.interp(pos, np.arange(len(y)), y).astype(np.float32)


def _sweep_filter(y: np.ndarray, cutoffs: np.ndarray, resonance: float, block: int = 512) -> np.ndarray:
    """A resonant low-pass whose cutoff follows `cutoffs` (one value per block)."""
    ladder = pb.LadderFilter(pb.LadderFilter.Mode.LPF24, cutoff_hz=float(cutoffs[0]), resonance=resonance)
    out = np.zeros_like(y)
    for i, start in enumerate(range(0, len(y), block)):
        ladder.cutoff_hz = float(cutoffs[min(i, len(cutoffs) - 1)])
        chunk = y[np.newaxis, start:start + block].astype(np.float32)
        out[start:start + block] = ladder.process(chunk, SR, reset=False)[0, : chunk.shape[1]]
    return out


def fx_texture(rng: np.random.Generator, plan: SongPlan, render: Render, n: int,
               duration: float) -> tuple[np.ndarray, str]:
    """Heavily processed material: reversed swells, grains, noise sweeps or filter sweeps."""
    kind = str(rng.choice(("reverse", "granular", "sweep", "filtered")))
    src = render(pad_part(plan, rng, duration, 48, 79, voices=3))
    if kind == "reverse":
        chunk = max(1, int(plan.bar * SR * int(rng.choice((1, 2)))))
        y = np.concatenate([src[i:i + chunk][::-1] for i in range(0, n, chunk)])[:n]
    elif kind == "granular":
        y = np.zeros(n, dtype=np.float32)
        pos = 0
        while pos < n:
            size = int(rng.uniform(0.03, 0.12) * SR)
            at = int(rng.integers(0, max(1, n - size)))
            grain = _pitch(src[at:at + size], float(rng.choice((0.5, 1.0, 1.5, 2.0))))
            grain = grain * np.hanning(len(grain)).astype(np.float32)
            end = min(n, pos + len(grain))
            y[pos:end] += grain[: end - pos]
            pos += int(rng.uniform(0.01, 0.05) * SR)
    elif kind == "sweep":
        noise = rng.standard_normal(n).astype(np.float32) * 0.3
        period = max(1, int(plan.bar * 2 * SR / 512))
        blocks = np.arange(n // 512 + 1)
        phase = (blocks % period) / period
        cutoffs = 150 * (60 ** phase) if rng.random() < 0.7 else 9000 * (60 ** -phase)
        t = np.arange(n) / SR
        chirp = np.sin(2 * np.pi * np.cumsum(200 + 3000 * ((t / (plan.bar * 2)) % 1.0) ** 2) / SR)
        y = _sweep_filter(noise, cutoffs, 0.6) + 0.2 * chirp.astype(np.float32) + 0.5 * src
    else:
        blocks = np.arange(n // 512 + 1) * 512 / SR
        lfo = 0.5 + 0.5 * np.sin(2 * np.pi * blocks / (plan.beat * int(rng.choice((2, 4, 8)))))
        y = _sweep_filter(src, 200 * (40 ** lfo), float(rng.uniform(0.5, 0.9)))
    y = effects.apply(effects.heavy_chain(rng), y.astype(np.float32))
    return y, kind


def sampler_texture(rng: np.random.Generator, plan: SongPlan, render: Render, n: int,
                    duration: float, lo: int, hi: int) -> np.ndarray:
    """Chopped material: a rendered phrase cut on the beat grid, re-sequenced with stutters,
    reversals and re-pitching, hard edits and lo-fi colouring."""
    phrase = comp_part(plan, rng, min(duration, plan.offset + 3 * plan.bar), lo, hi,
                       style=str(rng.choice(("stab", "block"))))
    src = render(phrase)
    first = max(0, int((phrase[0].start if phrase else 0) * SR))
    step = plan.beat * float(rng.choice((0.25, 0.5)))
    size = int(step * SR)
    src = np.pad(src, (0, max(0, first + 8 * size - len(src))))
    slices = [src[first + i * size: first + (i + 1) * size] for i in range(8)]
    steps = int(rng.choice((8, 16)))
    pattern = []
    for i in range(steps):
        if i and rng.random() < 0.3:
            pattern.append(pattern[-1])  # stutter
        elif rng.random() < 0.15:
            pattern.append(None)
        else:
            pattern.append((int(rng.integers(len(slices))), bool(rng.random() < 0.15),
                            float(rng.choice((1.0, 1.0, 1.0, 2 ** (7 / 12), 2 ** (-5 / 12), 0.5, 2.0)))))
    y = np.zeros(n, dtype=np.float32)
    k = 0
    t = plan.offset
    while t < duration:
        cell = pattern[k % steps]
        start = int(round(t * SR))
        if cell is not None and start + 1 < n and start >= 0:
            idx, rev, ratio = cell
            piece = _pitch(slices[idx][::-1] if rev else slices[idx], ratio)[:size]
            piece = _fade(piece)
            end = min(n, start + len(piece))
            y[start:end] += piece[: end - start]
        k += 1
        t = plan.offset + k * step
    return effects.apply(effects.lofi_chain(rng), y)


def scratch_texture(rng: np.random.Generator, plan: SongPlan, render: Render, n: int,
                    lo: int, hi: int) -> np.ndarray:
    """Turntable scratches: a short sample pushed back and forth at varying speed, with
    cross-fader cuts, on the beat grid."""
    key = int(rng.integers(lo, hi + 1))
    src = render([Note(0.05, 0.6, key, 120)])[: int(0.8 * SR)]
    start = int(np.argmax(np.abs(src) > 1e-3 * max(1e-9, float(np.abs(src).max()))))
    src = src[start:]
    y = np.zeros(n, dtype=np.float32)
    seg = plan.beat * float(rng.choice((0.5, 1.0)))
    k = 0
    while True:
        t0 = plan.offset + k * seg
        k += 1
        if t0 >= n / SR:
            break
        if t0 < 0 or rng.random() < 0.25:
            continue
        length = int(seg * SR)
        tt = np.arange(length) / length
        depth = rng.uniform(0.08, 0.3) * SR
        motion = str(rng.choice(("baby", "chirp", "tear")))
        if motion == "baby":
            pos = depth * (1 - np.cos(2 * np.pi * tt)) / 2
        elif motion == "chirp":
            pos = depth * np.sin(np.pi * tt) ** 2
        else:
            pos = depth * np.minimum(1.0, 2 * tt) * (1 - 0.5 * (tt > 0.5))
        piece = np.interp(pos, np.arange(len(src)), src).astype(np.float32)
        speed = np.abs(np.gradient(pos))
        piece *= np.clip(speed / (speed.max() + 1e-9) * 1.5, 0, 1).astype(np.float32)
        if motion == "chirp":
            piece[length // 2:] *= 0.0  # cross-fader cut
        begin = int(round(t0 * SR))
        end = min(n, begin + length)
        y[begin:end] += _fade(piece)[: end - begin]
    return y
