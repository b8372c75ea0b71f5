"""Log-mel spectrograms and the feature cache.

- `logmel(y, cfg)`: the reference computation (librosa `melspectrogram` + `power_to_db(ref=max)`).
- `LogMel(cfg)`: the same in torch, batched and GPU-able, exportable to ONNX (opset >= 17).
  Extraction uses it too, so training and inference share one implementation;
  `tests/test_features.py` checks it against `logmel` (largest difference below
  `LOGMEL_TOLERANCE_DB` on music-like signals; about 0.001 dB measured).
- `FeatureCache`: one float16 `.npy` per item (memory-mappable), plus a small JSON sidecar with
  the segment choice, written to a temporary name and renamed; keyed by `cache_key`.
- `extract_features`: choose, load and transform every manifest row in parallel; resumable.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from timbral.config import FeatureConfig, SegmentConfig, stable_hash
from timbral.errors import AudioError, ConfigError, TimbralError
from timbral.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

# Bump when the extraction code changes what a cached entry holds.
FEATURE_FORMAT_VERSION = 1
# LogMel vs librosa on music-like signals (float32): the largest difference in dB, over every
# bin of the 80 dB range (see tests/test_features.py).
LOGMEL_TOLERANCE_DB = 0.01
AMIN = 1e-10
STATUSES = ("extracted", "cached", "skipped", "failed")
RESULT_COLUMNS = [
    "item_id", "status", "reason", "start", "strategy", "active_classes", "n_active",
    "feature_path",
]


def logmel(y: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """(n_mels, frames) float32 log-mel in dB, `power_to_db(ref=max)`: 15 s -> 128 x 646."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=cfg.sr, n_fft=cfg.n_fft,
        hop_length=cfg.hop_length, n_mels=cfg.n_mels,
    )
    return librosa.power_to_db(mel, ref=np.max, top_db=cfg.top_db).astype(np.float32)


def mel_basis(cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """librosa's (Slaney) mel filterbank for `cfg`: (n_mels, 1 + n_fft // 2) float32."""
    import librosa

    return librosa.filters.mel(sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels).astype(np.float32)


class LogMel(nn.Module):
    """(B, samples) float waveforms -> (B, 1, n_mels, frames) log-mel in dB.

    Same as `logmel` item by item: centred STFT with zero padding and a periodic Hann window,
    power spectrum, librosa's mel filterbank, then `power_to_db` with each item's maximum as
    the reference and a floor `top_db` below it. A (samples,) input is a batch of one.
    Exports to ONNX with opset 17+ (its STFT operator).
    """

    def __init__(self, cfg: FeatureConfig = FeatureConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_fft = cfg.n_fft
        self.hop_length = cfg.hop_length
        self.top_db = float(cfg.top_db) if cfg.top_db is not None else None
        self.register_buffer("window", torch.hann_window(cfg.n_fft, periodic=True))
        self.register_buffer("mel", torch.from_numpy(mel_basis(cfg)))
        self._sparse: dict[torch.device, torch.Tensor] = {}  # sparse copies of `mel`, per device

    def _project(self, power: torch.Tensor) -> torch.Tensor:
        """(B, bins, frames) power -> (B, n_mels, frames). Each mel filter spans a few dozen
        bins, so eager runs use a sparse product (about 15x faster on CPU than the dense one,
        same sums); exported and traced graphs use the dense product."""
        if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing() or torch.jit.is_scripting():
            return torch.matmul(self.mel, power)
        sparse = self._sparse.get(self.mel.device)
        if sparse is None or sparse.dtype != self.mel.dtype:
            sparse = self._sparse[self.mel.device] = self.mel.to_sparse().coalesce()
        b, bins, frames = power.shape
        # the STFT's output is frame-major: make bins the rows (one copy) for a fast product
        flat = power.transpose(0, 1).reshape(bins, b * frames).contiguous()
        return torch.sparse.mm(sparse, flat).reshape(-1, b, frames).transpose(0, 1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 1:
            y = y.unsqueeze(0)
        y = y.to(self.window.dtype)
        if torch.onnx.is_in_onnx_export():  # complex tensors do not export
            spec = torch.stft(
                y, self.n_fft, self.hop_length, window=self.window, center=True,
                pad_mode="constant", return_complex=False,
            )
            power = spec.pow(2).sum(-1)
        else:
            spec = torch.stft(
                y, self.n_fft, self.hop_length, window=self.window, center=True,
                pad_mode="constant", return_complex=True,
            )
            power = spec.real.square() + spec.imag.square()
        mel = self._project(power)  # (B, n_mels, frames)
        db = 10.0 * torch.log10(torch.clamp(mel, min=AMIN))
        db = db - db.amax(dim=(1, 2), keepdim=True)  # ref = max: 10 log10(max(amin, max S))
        if self.top_db is not None:
            db = torch.clamp(db, min=-self.top_db)  # the maximum's bin is 0 dB
        return db.unsqueeze(1)


# ------------------------------------------------------------------------------ the cache


def file_identity(path: str | Path) -> dict:
    """Absolute path, size and modification time (ns) of a file; AudioError if it is missing."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise AudioError(f"{path}: file not found") from None
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def cache_key(
    path: str | Path,
    feature_cfg: FeatureConfig,
    segment_cfg: SegmentConfig,
    extra: dict | None = None,
) -> str:
    """Hash of the file's identity (path, size, mtime), both configs and `extra`."""
    return stable_hash(
        "timbral-features", FEATURE_FORMAT_VERSION, file_identity(path), feature_cfg,
        segment_cfg, extra or {}, length=32,
    )


_KEY = re.compile(r"^[0-9a-f]{8,64}$")


class FeatureCache:
    """Per-item float16 `.npy` files under `root/<key[:2]>/<key>.npy`, with an optional JSON
    sidecar `<key>.json`. Writes go to a temporary file that is renamed into place, so an entry
    is either complete or absent; the `.npy` is written last and marks the entry as present."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ConfigError(f"feature cache: invalid key {key!r}")
        return self.root / key[:2] / f"{key}.npy"

    def meta_path_for(self, key: str) -> Path:
        return self.path_for(key).with_suffix(".json")

    def has(self, key: str) -> bool:
        return self.path_for(key).is_file()

    @staticmethod
    def _replace(final: Path, write) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                write(fh)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def write(self, key: str, array: np.ndarray, meta: Mapping[str, Any] | None = None) -> Path:
        """Store `array` as float16 (and `meta` as JSON first); returns the `.npy` path."""
        path = self.path_for(key)
        if meta is not None:
            blob = json.dumps(dict(meta), sort_keys=True).encode()
            self._replace(self.meta_path_for(key), lambda fh: fh.write(blob))
        data = np.ascontiguousarray(np.asarray(array, dtype=np.float16))
        self._replace(path, lambda fh: np.save(fh, data, allow_pickle=False))
        return path

    def read(self, key: str) -> np.ndarray:
        return np.load(self.path_for(key), allow_pickle=False).astype(np.float32)

    def read_meta(self, key: str) -> dict | None:
        try:
            return json.loads(self.meta_path_for(key).read_text())
        except (OSError, ValueError):
            return None

    def shape_of(self, key: str) -> tuple[int, ...] | None:
        """The stored array's shape, read from the `.npy` header only (None if unreadable)."""
        try:
            return tuple(np.load(self.path_for(key), mmap_mode="r", allow_pickle=False).shape)
        except (OSError, ValueError):
            return None

    def clean_temp(self) -> int:
        """Delete leftover temporary files (from killed runs); returns how many. Do not run it
        while another extraction writes to the same cache."""
        n = 0
        for tmp in self.root.glob("*/.*.tmp"):
            tmp.unlink(missing_ok=True)
            n += 1
        return n


# ---------------------------------------------------------------------------- extraction


def _row_extra(
    row: Mapping[str, Any], root: str, segment_cfg: SegmentConfig, taxonomy_id: str | None,
    track,
) -> dict:
    """Everything besides the audio file and configs that decides a row's entry: its kind and
    stem, its classes, the taxonomy and the annotation files used to choose the window."""
    from timbral.data.medleydb import activation_file, pitch_file

    track_id = str(row.get("track_id") or "")
    annotations = []
    if root and track_id:
        act = activation_file(root, track_id)
        if act is not None:
            annotations.append(file_identity(act))
        if row.get("kind") == "mix" and segment_cfg.mix_strategy in ("activity", "pitch"):
            for stem in track.stems if track is not None else ():
                p = pitch_file(root, track_id, stem)
                if p is not None:
                    annotations.append(file_identity(p))
    return {
        "kind": str(row.get("kind") or ""),
        "stem_id": str(row.get("stem_id") or ""),
        "classes": [str(c) for c in (row.get("classes") if row.get("classes") is not None else [])],
        "taxonomy": taxonomy_id,
        "annotations": annotations,
    }


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, TimbralError) else f"{type(exc).__name__}: {text}"


_WORKER_STATE: dict[str, Any] = {}


def _logmel_fn(cfg: FeatureConfig):
    """A cached single-threaded LogMel for this process (numpy in, numpy out)."""
    key = ("logmel", cfg)
    if key not in _WORKER_STATE:
        module = LogMel(cfg).eval()

        def run(y: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(np.ascontiguousarray(y)))[0, 0].numpy()

        _WORKER_STATE[key] = run
    return _WORKER_STATE[key]


def compute_item(
    row: Mapping[str, Any],
    root: str,
    feature_cfg: FeatureConfig,
    segment_cfg: SegmentConfig,
    taxonomy: Taxonomy | str | None = "macro17",
    tracks_cache: dict | None = None,
):
    """Choose, load and transform one row: (log-mel (n_mels, frames), SegmentChoice).

    Raises AudioError (SilentAudioError for silence) or DatasetError for bad input.
    """
    from timbral.data.audio import audio_info, load_segment, peak_normalize
    from timbral.data.segments import SilentAudioError, choose_segment

    path = str(row["path"])
    info = audio_info(path)
    choice = choose_segment(
        row, root, feature_cfg, segment_cfg, tracks_cache, taxonomy=taxonomy, info=info,
        check_silence=False,
    )
    y = load_segment(path, choice.start, feature_cfg.segment_seconds, feature_cfg.sr,
                     normalize=False, info=info)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak < segment_cfg.silence_peak:
        end = choice.start + feature_cfg.segment_seconds
        raise SilentAudioError(
            f"{path}: silent at {choice.start:.1f}-{end:.1f} s "
            f"(peak {peak:.2g} < {segment_cfg.silence_peak:g})"
        )
    return _logmel_fn(feature_cfg)(peak_normalize(y)), choice


def _extract_row(
    index: int,
    row: dict,
    root: str,
    cache_root: str,
    feature_cfg: FeatureConfig,
    segment_cfg: SegmentConfig,
    taxonomy: Taxonomy | None,
    taxonomy_id: str | None = None,
) -> tuple[int, dict]:
    """Worker: one row -> its result record. Never raises for a bad file."""
    from timbral.data.segments import SilentAudioError, find_track

    tracks = _WORKER_STATE.setdefault(("tracks", root), {})
    rec: dict[str, Any] = {
        "item_id": str(row.get("item_id", index)), "status": "failed", "reason": "",
        "start": float("nan"), "strategy": "", "active_classes": None, "n_active": -1,
        "feature_path": "",
    }
    cache = FeatureCache(cache_root)
    try:
        path = str(row.get("path") or "")
        if not path:
            rec.update(status="skipped", reason=f"{rec['item_id']}: no audio file in the manifest")
            return index, rec
        track_id = str(row.get("track_id") or "")
        track = find_track(root, track_id, tracks) if root and track_id else None
        extra = _row_extra(row, root, segment_cfg, taxonomy_id, track)
        key = cache_key(path, feature_cfg, segment_cfg, extra)
        shape = (feature_cfg.n_mels, feature_cfg.n_frames)
        if cache.has(key):
            meta = cache.read_meta(key)
            if meta is not None and cache.shape_of(key) == shape:
                rec.update(meta)
                rec.update(status="cached", feature_path=str(cache.path_for(key)))
                return index, rec
        feats, choice = compute_item(row, root, feature_cfg, segment_cfg, taxonomy, tracks)
        if feats.shape != shape:
            raise AudioError(f"{path}: unexpected feature shape {feats.shape} (expected {shape})")
        meta = {
            "start": float(choice.start), "strategy": choice.strategy,
            "active_classes": choice.active_classes, "n_active": choice.n_active,
        }
        rec.update(meta)
        rec.update(status="extracted", feature_path=str(cache.write(key, feats, meta)))
    except SilentAudioError as exc:
        rec.update(status="skipped", reason=_one_line(exc))
    except Exception as exc:  # recorded, and the run goes on
        rec.update(status="failed", reason=_one_line(exc))
    return index, rec


def _resolve_taxonomy(taxonomy: Taxonomy | str | None) -> Taxonomy | None:
    if taxonomy is None or isinstance(taxonomy, Taxonomy):
        return taxonomy
    try:
        return load_taxonomy(taxonomy or "macro17")
    except TimbralError as exc:
        log.warning("active classes of mixes left unknown: %s", exc)
        return None


def _reason_kind(reason: str) -> str:
    """The group of a reason: the message without its file name, parenthesised detail and
    numbers (`/a/b.wav: silent at 3.0-18.0 s (peak 0 < 0.0001)` -> `silent at #-# s`)."""
    text = reason.split(": ", 1)[1] if ": " in reason else reason
    text = re.sub(r"\s*\(.*", "", text)
    return re.sub(r"[-+]?\d[\d.]*", "#", text).strip() or reason


def summarize(frame, seconds: float | None = None) -> str:
    """A short report of an extraction result: counts per status and the reasons."""
    counts = Counter(frame["status"]) if len(frame) else Counter()
    head = f"features: {len(frame)} rows: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES)
    if seconds is not None:
        head += f" in {seconds:.1f} s ({len(frame) / max(seconds, 1e-9):.1f} rows/s)"
    lines = [head]
    for status in ("skipped", "failed"):
        sub = frame[frame["status"] == status]
        if not len(sub):
            continue
        groups = Counter(_reason_kind(r) for r in sub["reason"])
        for kind, n in groups.most_common():
            example = next(r for r in sub["reason"] if _reason_kind(r) == kind)
            lines.append(f"  {status}: {n} x {kind} (e.g. {example})")
    return "\n".join(lines)


def extract_features(
    manifest,
    cache_dir: str | Path,
    feature_cfg: FeatureConfig = FeatureConfig(),
    segment_cfg: SegmentConfig = SegmentConfig(),
    n_jobs: int = -1,
    progress: bool = True,
    *,
    taxonomy: Taxonomy | str | None = None,
):
    """Extract (or find in the cache) one log-mel per manifest row, in parallel.

    Returns a DataFrame with one row per manifest row, in order, and the columns
    `RESULT_COLUMNS`. Each entry is written as soon as it is computed, atomically, so an
    interrupted run resumes where it stopped; a failing file is recorded (one-line reason)
    and the run goes on. With `progress`, shows a bar (rows/s, ETA) and prints a summary.
    `taxonomy` (default: the manifest's, by name) maps a mix's stems to classes for
    `active_classes`; if it cannot be loaded, mixes get `active_classes` None.
    """
    import pandas as pd
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    root = str(getattr(manifest, "root", "") or "")
    taxonomy = _resolve_taxonomy(taxonomy if taxonomy is not None else manifest.taxonomy)
    rows = manifest.rows.to_dict("records")
    cache_root = str(Path(cache_dir))
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    taxonomy_id = stable_hash(taxonomy.to_dict()) if taxonomy is not None else None
    args = (root, cache_root, feature_cfg, segment_cfg, taxonomy, taxonomy_id)
    results: list[dict | None] = [None] * len(rows)
    t0 = time.perf_counter()
    bar = tqdm(total=len(rows), unit="row", desc="features", disable=not progress,
               dynamic_ncols=True)
    try:
        if n_jobs == 1 or len(rows) <= 1:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                for i, row in enumerate(rows):
                    results[i] = _extract_row(i, row, *args)[1]
                    bar.update()
            finally:
                torch.set_num_threads(threads)
        else:
            parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered",
                                inner_max_num_threads=1)
            tasks = (delayed(_extract_row)(i, row, *args) for i, row in enumerate(rows))
            for i, rec in parallel(tasks):
                results[i] = rec
                bar.update()
    finally:
        bar.close()
    frame = pd.DataFrame(results, columns=RESULT_COLUMNS)
    frame["n_active"] = frame["n_active"].astype(int)
    if progress:
        print(summarize(frame, time.perf_counter() - t0), file=sys.stderr)
    return frame

