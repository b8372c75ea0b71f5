"""What tagging one recording gives: clip-level probabilities and decisions, and a timeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

AGGREGATES = ("max", "mean")


@dataclass
class TagResult:
    """Instruments in one recording, and when they play.

    `probabilities` (C,) aggregates `window_probabilities` (W, C) over windows with
    `aggregate` ("max": present if it plays anywhere; "mean": share of the recording).
    A class is present when its probability >= its threshold. `padded`: the audio is shorter
    than one window and was zero-padded. `silent`: no window has sound above the silence floor,
    so no instrument is present. `duration` and `sr` describe the input as given.
    """

    file: str
    duration: float
    sr: int
    channels: int
    model: str
    classes: list[str]
    thresholds: np.ndarray
    probabilities: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    window_probabilities: np.ndarray
    aggregate: str = "max"
    padded: bool = False
    silent: bool = False
    notes: list[str] = field(default_factory=list)
    envelope: np.ndarray | None = field(default=None, repr=False)  # peak |y| per time bin

    @property
    def present(self) -> np.ndarray:
        """(C,) bool: clip-level decision per class."""
        return self.probabilities >= self.thresholds

    @property
    def instruments(self) -> list[str]:
        """Names of the classes present, most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")
        return [self.classes[i] for i in order if self.present[i]]

    def active_ranges(self, name: str) -> list[tuple[float, float]]:
        """Time ranges (seconds) where windows put `name` at or above its threshold."""
        c = self.classes.index(name)
        on = self.window_probabilities[:, c] >= self.thresholds[c]
        ranges: list[tuple[float, float]] = []
        for i in np.flatnonzero(on):
            s, e = float(self.starts[i]), float(self.ends[i])
            if ranges and s <= ranges[-1][1]:
                ranges[-1] = (ranges[-1][0], max(ranges[-1][1], e))
            else:
                ranges.append((s, e))
        return ranges

    def plot(self, path: str | Path | None = None, ax=None):
        """Timeline figure (waveform over a classes x time heatmap); see `inference.plot`."""
        from timbral.inference.plot import plot_timeline

        return plot_timeline(self, path, ax=ax)

    def to_dict(self) -> dict:
        """JSON-ready: file, duration, sr, model, instruments, timeline, plus padded/silent/notes."""
        return {
            "file": self.file,
            "duration": round(float(self.duration), 3),
            "sr": int(self.sr),
            "model": self.model,
            "instruments": [
                {"name": name, "probability": _p(p), "present": bool(on)}
                for name, p, on in zip(self.classes, self.probabilities, self.present)
            ],
            "timeline": [
                {"start": round(float(s), 3), "end": round(float(e), 3),
                 "probabilities": {c: _p(p) for c, p in zip(self.classes, row)}}
                for s, e, row in zip(self.starts, self.ends, self.window_probabilities)
            ],
            "aggregate": self.aggregate,
            "padded": bool(self.padded),
            "silent": bool(self.silent),
            "notes": list(self.notes),
        }

    def csv_header(self) -> list[str]:
        return ["file", "kind", "start", "end", "present", *self.classes]

    def to_csv_rows(self) -> list[dict]:
        """One "clip" row (the aggregate) then one "window" row per window; `present` lists the
        classes at or above threshold, separated by ";"."""
        def row(kind: str, s: float, e: float, probs: np.ndarray) -> dict:
            on = [c for c, p, t in zip(self.classes, probs, self.thresholds) if p >= t]
            return {"file": self.file, "kind": kind, "start": round(float(s), 3),
                    "end": round(float(e), 3), "present": ";".join(on),
                    **{c: _p(p) for c, p in zip(self.classes, probs)}}

        rows = [row("clip", 0.0, self.duration, self.probabilities)]
        rows += [row("window", s, e, p)
                 for s, e, p in zip(self.starts, self.ends, self.window_probabilities)]
        return rows

    def to_table(self) -> str:
        """A short human-readable summary: present instruments with when they play."""
        flags = [f for f, on in (("padded", self.padded), ("silent", self.silent)) if on]
        n = len(self.starts)
        head = (f"{self.file}  {_clock(self.duration)}  {self.sr} Hz  {self.channels} ch"
                f"  {n} window{'s' if n != 1 else ''}" + (f"  [{', '.join(flags)}]" if flags else ""))
        lines = [head]
        names = self.instruments
        width = max((len(n) for n in names), default=0)
        for name in names:
            p = self.probabilities[self.classes.index(name)]
            spans = ", ".join(f"{_clock(s)}-{_clock(e)}" for s, e in self.active_ranges(name))
            lines.append(f"  {name:<{width}}  {p:.2f}  {spans or '(clip level only)'}")
        if not names:
            lines.append("  no instrument detected")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _p(p: float) -> float:
    return round(float(p), 4)


def _clock(seconds: float) -> str:
    m, s = divmod(float(seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"
