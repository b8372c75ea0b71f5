"""Spoken, rapped and shouted parts from speech synthesis, placed where the stem is active."""

from __future__ import annotations

import numpy as np

from timbral.corpus import synth
from timbral.corpus.activity import FRAME
from timbral.corpus.plan import SongPlan

SR = synth.SR
MALE = tuple(f"m{i}" for i in range(1, 9))
FEMALE = tuple(f"f{i}" for i in range(1, 6))


def _phrases(role: str, rng: np.random.Generator, plan: SongPlan, duration: float,
             mask: np.ndarray, speed: int) -> list[tuple[float, float, int]]:
    """(start, max length, words) of each phrase, starting only in active frames."""
    out = []
    if role == "rap":  # one line per bar, filling it
        words = max(4, int(plan.bar * speed / 60 * 1.1))
        for bar in range(plan.bars):
            t = plan.offset + bar * plan.bar + float(rng.choice((0.0, 0.25))) * plan.beat
            out.append((t, plan.bar * 0.97, words))
    elif role == "scream":
        every = int(rng.choice((1, 2)))
        for bar in range(0, plan.bars, every):
            out.append((plan.offset + bar * plan.bar, plan.bar * every * 0.8, int(rng.integers(2, 5))))
    else:
        t = 0.0
        while t < duration:
            words = int(rng.integers(5, 12))
            length = words * 60.0 / speed
            out.append((t, length + 0.3, words))
            t += length + float(rng.uniform(0.15, 0.4))
    active = [(s, m, w) for s, m, w in out
              if 0 <= s < duration and mask[min(len(mask) - 1, int(round(s / FRAME)))]]
    return active


def speech_layer(rng: np.random.Generator, plan: SongPlan, role: str, voice: str, n: int,
                 duration: float, mask: np.ndarray) -> tuple[np.ndarray, bool]:
    """The layer's audio (mono, n samples) and whether espeak-ng (not the fallback) spoke it."""
    voices = FEMALE if voice == "female" else MALE
    variant = voices[int(rng.integers(1 << 20)) % len(voices)]
    base_pitch = {"rap": (30, 55), "scream": (70, 99)}.get(role, (35, 65))
    rate = {"rap": (210, 280), "scream": (150, 200)}.get(role, (140, 185))
    pitch = int(rng.integers(*base_pitch))
    speed = int(rng.integers(*rate))
    f0 = 200.0 if voice == "female" else 115.0
    y = np.zeros(n, dtype=np.float32)
    spoken = True
    for start, length, words in _phrases(role, rng, plan, duration, mask, speed):
        text = synth.sentence(rng, words)
        clip = synth.speak(text, variant, speed, pitch, amplitude=200 if role == "scream" else 120)
        if clip is None or not clip.size:
            spoken = False
            clip = synth.tonal_speech(rng, min(length, words * 0.3), f0 * (1.6 if role == "scream" else 1.0))
        clip = clip[: int(length * SR)]
        begin = int(round(start * SR))
        end = min(n, begin + len(clip))
        if end > begin:
            y[begin:end] += clip[: end - begin]
    return y, spoken
