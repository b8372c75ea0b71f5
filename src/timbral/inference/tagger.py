"""`Tagger`: which instruments play in any recording, and when.

    tagger = Tagger.load("runs/demo/best_model.pt")
    result = tagger.predict("song.flac")          # or tagger.predict(y, sr=44100)
    result.instruments, result.to_dict()

Audio is streamed window by window (see `inference.windows`), windows of the training segment
length are batched through the model, and windows from several files share batches.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from timbral.artifact import ModelArtifact
from timbral.errors import ConfigError, ModelError, TimbralError
from timbral.inference.backends import make_runner
from timbral.inference.frontend import FrontEnd
from timbral.inference.result import AGGREGATES, TagResult
from timbral.inference.sources import open_source
from timbral.inference.windows import Window, WindowStream

Audio = str | Path | np.ndarray


class _Job:
    """One input on its way through the batches."""

    def __init__(self, item: Any) -> None:
        self.item = item
        self.error: TimbralError | None = None
        self.stream: WindowStream | None = None
        self.probs = np.zeros((0, 0), dtype=np.float32)
        self.silent = np.zeros(0, dtype=bool)
        self.in_flight = 0
        self.read_done = False

    @property
    def done(self) -> bool:
        return self.error is not None or (self.read_done and self.in_flight == 0)


class Tagger:
    """Tag recordings with a trained model artifact.

    hop: seconds between window starts (default: half the training segment, 50 % overlap).
    threshold: one decision threshold for every class (default: the artifact's per-class ones).
    aggregate: how window probabilities become clip probabilities: "max" (default; a class is
        present if it plays anywhere) or "mean" (favours classes that play throughout).
    batch_size: windows per model call (memory grows with it, not with file length).
    backend: "auto" (ONNX Runtime when the model exports to it, else PyTorch), "onnxruntime",
        or "torch". threads: CPU threads (default: all cores available to the process).
    """

    def __init__(
        self,
        artifact: ModelArtifact,
        *,
        model_label: str | None = None,
        hop: float | None = None,
        threshold: float | None = None,
        aggregate: str = "max",
        batch_size: int = 8,
        backend: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.artifact = artifact
        self.classes = list(artifact.classes)
        self.feature = artifact.feature
        self.window = float(self.feature.segment_seconds)
        self.hop = self.window / 2 if hop is None else float(hop)
        if not self.hop > 0:
            raise ConfigError(f"hop must be > 0 seconds, got {hop!r}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be within [0, 1], got {threshold!r}")
        if aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate: unknown value {aggregate!r} ({', '.join(AGGREGATES)})")
        if int(batch_size) < 1:
            raise ConfigError(f"batch size must be >= 1, got {batch_size!r}")
        self.thresholds = (
            np.asarray(artifact.thresholds, dtype=np.float64) if threshold is None
            else np.full(len(self.classes), float(threshold))
        )
        self.aggregate, self.batch_size = aggregate, int(batch_size)
        self.silence_peak = float(artifact.segment.silence_peak)
        self.model_label = model_label or artifact.model_name
        self.frontend = FrontEnd(self.feature)
        self.runner = make_runner(artifact, backend, threads)
        self.max_buffered = 0  # most resampled samples held at once by any stream so far

    @classmethod
    def load(cls, path: str | Path, **options: Any) -> Tagger:
        """A tagger for the artifact at `path` (options as for `Tagger(...)`)."""
        try:
            return cls(ModelArtifact.load(path), model_label=str(path), **options)
        except ModelError as exc:
            if str(path) in str(exc):
                raise
            raise ModelError(f"{path}: {str(exc).rstrip(': ')}") from None

    @property
    def backend(self) -> str:
        return self.runner.name

    def predict(self, audio: Audio, sr: int | None = None) -> TagResult:
        """Tag one file (any format soundfile reads) or array ((samples,) or 2-D with channels
        on the shorter axis, at `sr`). Raises AudioError for unusable audio."""
        ((_, out),) = list(self.predict_many([audio], sr=sr))
        if isinstance(out, TimbralError):
            raise out
        return out

    def predict_many(
        self, items: Iterable[Audio], sr: int | None = None
    ) -> Iterator[tuple[Audio, TagResult | TimbralError]]:
        """Yield (item, result or error) for each input, in order; a bad input does not stop
        the others. Windows of consecutive inputs share model batches."""
        pending: deque[_Job] = deque()
        batch: list[tuple[_Job, Window]] = []
        for item in items:
            job = _Job(item)
            pending.append(job)
            try:
                job.stream = WindowStream(open_source(item, sr), self.feature.sr, self.window,
                                          self.hop)
                n = len(job.stream.starts)
                job.probs = np.zeros((n, len(self.classes)), dtype=np.float32)
                job.silent = np.zeros(n, dtype=bool)
                for w in job.stream:
                    if w.peak < self.silence_peak:
                        job.silent[w.index] = True  # no sound: probabilities stay 0
                        continue
                    batch.append((job, w))
                    job.in_flight += 1
                    if len(batch) >= self.batch_size:
                        self._run(batch)
                        batch = []
                        yield from self._drain(pending)
                job.read_done = True
                self.max_buffered = max(self.max_buffered, job.stream.max_buffered)
            except TimbralError as exc:
                job.error = exc
            yield from self._drain(pending)
        if batch:
            self._run(batch)
        yield from self._drain(pending)

    def _run(self, batch: list[tuple[_Job, Window]]) -> None:
        probs = self.runner(self.frontend(np.stack([w.samples for _, w in batch])))
        for (job, w), p in zip(batch, probs):
            job.probs[w.index] = p
            job.in_flight -= 1

    def _drain(self, pending: deque[_Job]) -> Iterator[tuple[Audio, TagResult | TimbralError]]:
        while pending and pending[0].done:
            job = pending.popleft()
            yield job.item, job.error if job.error is not None else self._result(job)

    def _result(self, job: _Job) -> TagResult:
        stream = job.stream
        source = stream.source
        probs = job.probs
        clip = probs.max(axis=0) if self.aggregate == "max" else probs.mean(axis=0)
        notes = []
        if stream.padded:
            notes.append(f"shorter than one {self.window:g} s window: zero-padded to "
                         f"{self.window:g} s")
        silent = bool(job.silent.all())
        if silent:
            notes.append(f"silent (peak below {self.silence_peak:g}): no instrument")
        elif job.silent.any():
            notes.append(f"{int(job.silent.sum())} of {len(job.silent)} windows silent "
                         "(probabilities 0)")
        return TagResult(
            file=source.name, duration=source.duration, sr=source.sr, channels=source.channels,
            model=self.model_label, classes=self.classes, thresholds=self.thresholds,
            probabilities=clip, starts=np.asarray(stream.starts, dtype=np.float64),
            ends=np.array([min(s + self.window, source.duration) for s in stream.starts]),
            window_probabilities=probs, aggregate=self.aggregate, padded=stream.padded,
            silent=silent, notes=notes, envelope=stream.envelope,
        )
