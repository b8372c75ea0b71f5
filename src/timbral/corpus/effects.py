"""Per-stem processing drawn at random (EQ, compression, reverb, amp colouring, ...) and applied
with pedalboard. A chain is plain data (`[[name, {param: value}], ...]`) so it can be recorded
in corpus.json and replayed exactly."""

from __future__ import annotations

import numpy as np
import pedalboard as pb

SR = 44100
PLUGINS = {
    "highpass": pb.HighpassFilter, "lowpass": pb.LowpassFilter, "peak": pb.PeakFilter,
    "lowshelf": pb.LowShelfFilter, "highshelf": pb.HighShelfFilter, "compressor": pb.Compressor,
    "distortion": pb.Distortion, "chorus": pb.Chorus, "phaser": pb.Phaser, "delay": pb.Delay,
    "reverb": pb.Reverb, "bitcrush": pb.Bitcrush, "resample": pb.Resample, "gain": pb.Gain,
}
LOW_ROLES = {"bass", "timpani"}
PERCUSSIVE = {"kit", "drum_machine", "percussion", "hits"}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 3)


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))), 1)


def draw_chain(rng: np.random.Generator, role: str, label: str, style: str = "") -> list:
    """A random processing chain suited to the stem's role and label."""
    chain: list = []
    low = role in LOW_ROLES or label in ("kick drum", "bass drum", "tuba")
    chain.append(["highpass", {"cutoff_frequency_hz": _u(rng, 20, 45) if low else _logu(rng, 40, 180)}])
    if label == "distorted electric guitar" or label == "male screamer":
        chain.append(["distortion", {"drive_db": _u(rng, 18, 38)}])
        chain.append(["lowpass", {"cutoff_frequency_hz": _logu(rng, 3200, 6500)}])
        chain.append(["peak", {"cutoff_frequency_hz": _logu(rng, 500, 2500), "gain_db": _u(rng, -4, 5), "q": _u(rng, 0.6, 1.5)}])
    elif label in ("clean electric guitar", "electric bass", "synthesizer", "electric piano") and rng.random() < 0.3:
        chain.append(["distortion", {"drive_db": _u(rng, 3, 10)}])
        chain.append(["lowpass", {"cutoff_frequency_hz": _logu(rng, 5000, 10000)}])
    for _ in range(int(rng.integers(1, 4))):
        chain.append(["peak", {"cutoff_frequency_hz": _logu(rng, 120, 9000), "gain_db": _u(rng, -6, 6),
                               "q": _u(rng, 0.5, 2.0)}])
    if rng.random() < 0.5:
        chain.append(["lowshelf", {"cutoff_frequency_hz": _logu(rng, 80, 300), "gain_db": _u(rng, -4, 4)}])
    if rng.random() < 0.5:
        chain.append(["highshelf", {"cutoff_frequency_hz": _logu(rng, 3000, 10000), "gain_db": _u(rng, -6, 4)}])
    if rng.random() < (0.9 if role in PERCUSSIVE | {"bass", "melody", "rap", "speech"} else 0.6):
        chain.append(["compressor", {"threshold_db": _u(rng, -28, -8), "ratio": _u(rng, 1.5, 6),
                                     "attack_ms": _u(rng, 1, 30), "release_ms": _u(rng, 50, 300)}])
    if role in ("comp", "arp", "pad", "synth") and rng.random() < 0.2:
        chain.append(["chorus", {"rate_hz": _u(rng, 0.3, 2.0), "depth": _u(rng, 0.1, 0.4), "mix": _u(rng, 0.2, 0.5)}])
    if role in ("comp", "pad", "synth") and rng.random() < 0.1:
        chain.append(["phaser", {"rate_hz": _u(rng, 0.2, 1.5), "depth": _u(rng, 0.3, 0.8), "mix": _u(rng, 0.2, 0.5)}])
    if role in ("melody", "synth", "rap") and rng.random() < 0.15:
        chain.append(["delay", {"delay_seconds": _u(rng, 0.12, 0.45), "feedback": _u(rng, 0.15, 0.4),
                                "mix": _u(rng, 0.1, 0.25)}])
    wet_max = 0.45 if style == "classical" else 0.3
    if rng.random() < (0.95 if style == "classical" else 0.75):
        chain.append(["reverb", {"room_size": _u(rng, 0.1, 0.85), "damping": _u(rng, 0.2, 0.8),
                                 "wet_level": _u(rng, 0.05, wet_max), "dry_level": _u(rng, 0.6, 1.0),
                                 "width": 1.0}])
    return chain


def heavy_chain(rng: np.random.Generator) -> list:
    """Processing that makes material sound processed: modulation, long feedback, huge spaces."""
    chain: list = [["highpass", {"cutoff_frequency_hz": _logu(rng, 60, 400)}]]
    if rng.random() < 0.6:
        chain.append(["phaser", {"rate_hz": _u(rng, 0.1, 4.0), "depth": _u(rng, 0.6, 1.0),
                                 "feedback": _u(rng, 0.3, 0.8), "mix": _u(rng, 0.5, 1.0)}])
    if rng.random() < 0.6:
        chain.append(["chorus", {"rate_hz": _u(rng, 0.5, 6.0), "depth": _u(rng, 0.5, 1.0),
                                 "feedback": _u(rng, 0.2, 0.6), "mix": _u(rng, 0.5, 1.0)}])
    if rng.random() < 0.4:
        chain.append(["bitcrush", {"bit_depth": _u(rng, 5, 10)}])
    chain.append(["delay", {"delay_seconds": _u(rng, 0.08, 0.6), "feedback": _u(rng, 0.35, 0.7),
                            "mix": _u(rng, 0.25, 0.5)}])
    chain.append(["reverb", {"room_size": _u(rng, 0.75, 0.98), "damping": _u(rng, 0.1, 0.5),
                             "wet_level": _u(rng, 0.4, 0.8), "dry_level": _u(rng, 0.2, 0.6), "width": 1.0}])
    return chain


def lofi_chain(rng: np.random.Generator) -> list:
    """Sampler colouring: reduced bandwidth and bit depth, punchy compression."""
    return [
        ["resample", {"target_sample_rate": _u(rng, 8000, 22050)}],
        ["bitcrush", {"bit_depth": _u(rng, 8, 12)}],
        ["lowpass", {"cutoff_frequency_hz": _logu(rng, 3000, 9000)}],
        ["compressor", {"threshold_db": _u(rng, -24, -10), "ratio": _u(rng, 3, 8), "attack_ms": 2.0,
                        "release_ms": 80.0}],
    ]


def room_chain(rng: np.random.Generator) -> list:
    """A room/PA recording of the whole ensemble: band-limited, compressed, reverberant."""
    return [
        ["highpass", {"cutoff_frequency_hz": _logu(rng, 90, 250)}],
        ["lowpass", {"cutoff_frequency_hz": _logu(rng, 3500, 8000)}],
        ["peak", {"cutoff_frequency_hz": _logu(rng, 300, 1500), "gain_db": _u(rng, 2, 8), "q": _u(rng, 0.7, 2.0)}],
        ["compressor", {"threshold_db": _u(rng, -30, -15), "ratio": _u(rng, 3, 8), "attack_ms": 10.0,
                        "release_ms": 200.0}],
        ["reverb", {"room_size": _u(rng, 0.55, 0.9), "damping": _u(rng, 0.3, 0.7),
                    "wet_level": _u(rng, 0.35, 0.6), "dry_level": _u(rng, 0.3, 0.6), "width": 1.0}],
    ]


def build(chain: list) -> pb.Pedalboard:
    return pb.Pedalboard([PLUGINS[name](**params) for name, params in chain])


def apply(chain: list, y: np.ndarray) -> np.ndarray:
    """Run mono `y` through the chain; same length, float32."""
    if not chain:
        return y
    out = build(chain)(y[np.newaxis, :].astype(np.float32), SR)
    return out[0, : len(y)].astype(np.float32)
