"""Log-mel (torch vs librosa, ONNX), the feature cache and resumable parallel extraction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml

from timbral.config import FeatureConfig, SegmentConfig
from timbral.data import features as F
from timbral.data.features import (
    LOGMEL_TOLERANCE_DB,
    RESULT_COLUMNS,
    FeatureCache,
    LogMel,
    cache_key,
    extract_features,
    logmel,
    summarize,
)
from timbral.data.manifest import Manifest
from timbral.data.medleydb import ACTIVATION_HOP_SECONDS
from timbral.errors import AudioError, ConfigError

REPO = Path(__file__).resolve().parents[1]


def music(seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """Music-like test signal: decaying harmonic notes, kick and snare hits, a silent gap and
    a faint noise floor, peak-normalised."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for _ in range(int(seconds * 3)):
        a, d = rng.uniform(0, seconds), rng.uniform(0.1, 1.0)
        f = 110 * 2 ** (rng.integers(0, 36) / 12)
        m = (t >= a) & (t < a + d)
        tt = t[m] - a
        env = np.exp(-3 * tt) * np.minimum(1, tt * 200)
        y[m] += sum(0.3 / k * np.sin(2 * np.pi * f * k * tt) for k in range(1, 8)) * env
    for b in np.arange(0, seconds, 0.5):
        m = (t >= b) & (t < b + 0.2)
        tt = t[m] - b
        y[m] += 0.8 * np.sin(2 * np.pi * (60 + 100 * np.exp(-30 * tt)) * tt) * np.exp(-20 * tt)
        if int(b * 2) % 2:
            y[m] += 0.3 * rng.standard_normal(m.sum()) * np.exp(-30 * tt)
    y[int(n * 0.4) : int(n * 0.5)] = 0
    y += 1e-4 * rng.standard_normal(n)
    return (y / np.abs(y).max()).astype(np.float32)


# ----------------------------------------------------------------------------------- log-mel


def test_reference_logmel_shape():
    assert logmel(music(15.0)).shape == (128, 646)


def test_torch_logmel_equals_librosa():
    signals = np.stack([music(15.0, seed=s) for s in range(3)])
    signals[2] *= 0.01  # the dB reference is each item's own maximum
    with torch.inference_mode():
        ours = LogMel().eval()(torch.from_numpy(signals)).numpy()
    assert ours.shape == (3, 1, 128, 646)
    for i in range(3):
        ref = logmel(signals[i])
        assert np.abs(ours[i, 0] - ref).max() < LOGMEL_TOLERANCE_DB
        assert ref.min() == pytest.approx(-80.0) and ours[i, 0].max() == 0.0
    silent = LogMel()(torch.zeros(22050)).numpy()[0, 0]
    np.testing.assert_array_equal(silent, logmel(np.zeros(22050, dtype=np.float32)))


def test_torch_logmel_other_settings():
    cfg = FeatureConfig(sr=16000, n_fft=1024, hop_length=256, n_mels=64, top_db=60.0)
    y = music(3.0, sr=16000, seed=5)
    with torch.inference_mode():
        ours = LogMel(cfg)(torch.from_numpy(y)).numpy()[0, 0]
    assert np.abs(ours - logmel(y, cfg)).max() < LOGMEL_TOLERANCE_DB


def test_logmel_exports_to_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    module = LogMel().eval()
    path = tmp_path / "logmel.onnx"
    torch.onnx.export(
        module, (torch.randn(2, 22050),), str(path), opset_version=17, dynamo=False,
        input_names=["waveform"], output_names=["logmel"],
        dynamic_axes={"waveform": {0: "batch", 1: "samples"}, "logmel": {0: "batch", 3: "frames"}},
    )
    y = np.stack([music(4.0, seed=1), 0.1 * music(4.0, seed=2)])
    out = ort.InferenceSession(str(path)).run(None, {"waveform": y})[0]
    with torch.inference_mode():
        ref = module(torch.from_numpy(y)).numpy()
    assert out.shape == ref.shape == (2, 1, 128, 173)
    assert np.abs(out - ref).max() < LOGMEL_TOLERANCE_DB


# ------------------------------------------------------------------------------------- cache


def test_cache_key_tracks_everything_that_decides_an_entry(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, music(1.0), 22050)
    f, s = FeatureConfig(), SegmentConfig()
    key = cache_key(path, f, s)
    assert key == cache_key(str(path), FeatureConfig(), SegmentConfig())  # stable
    others = {
        cache_key(path, FeatureConfig(n_mels=64), s),
        cache_key(path, FeatureConfig(segment_seconds=10.0), s),
        cache_key(path, f, SegmentConfig(stem_strategy="threshold")),
        cache_key(path, f, SegmentConfig(activity_threshold=0.6)),
        cache_key(path, f, s, {"kind": "stem"}),
    }
    os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns + 1_000_000))
    others.add(cache_key(path, f, s))
    assert key not in others and len(others) == 6
    with pytest.raises(AudioError, match="not found"):
        cache_key(tmp_path / "missing.wav", f, s)


def test_cache_roundtrip_and_atomic_writes(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "cache")
    key = "ab" * 16
    assert not cache.has(key)
    x = np.linspace(-80, 0, 128 * 10, dtype=np.float32).reshape(128, 10)
    path = cache.write(key, x, {"start": 1.5})
    assert path == cache.path_for(key) and cache.has(key)
    assert np.load(path).dtype == np.float16
    got = cache.read(key)
    assert got.dtype == np.float32 and np.abs(got - x).max() < 0.05  # float16 in [-80, 0]
    assert cache.read_meta(key) == {"start": 1.5} and cache.shape_of(key) == (128, 10)
    with pytest.raises(ConfigError):
        cache.path_for("../../etc/passwd")

    def dies_midway(fh, arr, allow_pickle=False):
        fh.write(b"\x93NUMPY partial")
        raise KeyboardInterrupt  # killed while writing
    monkeypatch.setattr(np, "save", dies_midway)
    other = "cd" * 16
    with pytest.raises(KeyboardInterrupt):
        cache.write(other, x)
    assert not cache.has(other)
    assert not list(cache.root.rglob("*.tmp"))


# ------------------------------------------------------------------------------- extraction

SR = 8000
TRACK = "Band_Song"
SEG = FeatureConfig(segment_seconds=2.0)  # 2 s segments: 87 frames
SHAPE = (128, SEG.n_frames)


def _tone(seconds, a, b, freq):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * ((t >= a) & (t < b)) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def build_set(root: Path) -> Manifest:
    """A one-song MedleyDB tree (mix + 3 stems, activations) and a set of bad files."""
    song = root / "Audio" / TRACK
    stems_dir = song / f"{TRACK}_STEMS"
    stems_dir.mkdir(parents=True)
    labels = {"S01": "female singer", "S02": "electric bass", "S03": "drum set"}
    spans = {"S01": (3.0, 6.0), "S02": (3.5, 7.0), "S03": (1.0, 8.0)}
    meta = {"mix_filename": f"{TRACK}_MIX.wav", "stem_dir": f"{TRACK}_STEMS",
            "stems": {s: {"filename": f"{s}.wav", "instrument": lab} for s, lab in labels.items()}}
    (song / f"{TRACK}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    rows, mix = [], np.zeros(8 * SR, dtype=np.float32)
    for i, (sid, (a, b)) in enumerate(spans.items()):
        y = _tone(8.0, a, b, 220.0 * (i + 1))
        mix += y
        sf.write(stems_dir / f"{sid}.wav", y, SR)
        cls = {"S01": "voice", "S02": "bass", "S03": "drums"}[sid]
        rows.append({"item_id": f"{TRACK}_STEM_{sid}", "track_id": TRACK, "kind": "stem",
                     "path": str(stems_dir / f"{sid}.wav"), "stem_id": sid, "classes": [cls]})
    sf.write(song / f"{TRACK}_MIX.wav", np.stack([mix, mix], axis=1), SR)
    rows.insert(0, {"item_id": f"{TRACK}_MIX", "track_id": TRACK, "kind": "mix",
                    "path": str(song / f"{TRACK}_MIX.wav"), "stem_id": "",
                    "classes": ["voice", "bass", "drums"]})
    times = np.arange(0, 8.0, ACTIVATION_HOP_SECONDS)
    act = root / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF"
    act.mkdir(parents=True)
    lines = ["time,S01,S02,S03"] + [
        f"{t:.5f}," + ",".join("0.9" if a <= t < b else "0.1" for a, b in spans.values())
        for t in times
    ]
    (act / f"{TRACK}_ACTIVATION_CONF.lab").write_text("\n".join(lines) + "\n")

    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.wav").write_bytes(b"")
    (bad / "text.wav").write_text("not audio at all\n" * 40)
    good = bad / "good.wav"
    sf.write(good, _tone(4.0, 0, 4, 440), SR, subtype="PCM_16")
    (bad / "truncated.wav").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    sf.write(bad / "silent.wav", np.zeros(4 * SR, dtype=np.float32), SR)
    sf.write(bad / "short.flac", _tone(1.0, 0, 1, 330), SR)
    for name in ("empty.wav", "text.wav", "truncated.wav", "silent.wav", "short.flac"):
        rows.append({"item_id": name, "track_id": "", "kind": "stem", "path": str(bad / name),
                     "stem_id": "", "classes": ["piano"]})
    rows.append({"item_id": "gone", "track_id": "", "kind": "raw", "path": str(bad / "gone.wav"),
                 "stem_id": "", "classes": ["piano"]})
    frame = pd.DataFrame(rows).assign(fine_labels=[[] for _ in rows])
    return Manifest(rows=frame, classes=["voice", "bass", "drums", "piano"], taxonomy="macro17",
                    root=str(root))


def test_extract_records_every_row(tmp_path, capsys):
    manifest = build_set(tmp_path / "db")
    out = extract_features(manifest, tmp_path / "cache", SEG, n_jobs=1, progress=True)
    assert list(out.columns) == RESULT_COLUMNS
    assert out["item_id"].tolist() == manifest.rows["item_id"].tolist()
    by = out.set_index("item_id")
    ok = [f"{TRACK}_MIX"] + [f"{TRACK}_STEM_S0{i}" for i in (1, 2, 3)] + ["short.flac"]
    assert (by.loc[ok, "status"] == "extracted").all()
    for item in ok:
        x = np.load(by.loc[item, "feature_path"])
        assert x.shape == SHAPE and x.dtype == np.float16 and np.isfinite(x).all()
    mix = by.loc[f"{TRACK}_MIX"]
    assert mix["strategy"] == "activity" and mix["start"] == pytest.approx(3.5, abs=0.05)
    assert list(mix["active_classes"]) == ["voice", "bass", "drums"] and mix["n_active"] == 3
    assert by.loc["short.flac", "strategy"] == "short" and by.loc["short.flac", "n_active"] == -1
    expected = {
        "empty.wav": ("failed", "empty file"), "text.wav": ("failed", "not a readable audio"),
        "truncated.wav": ("failed", "truncated"), "silent.wav": ("skipped", "silent"),
        "gone": ("failed", "not found"),
    }
    for item, (status, words) in expected.items():
        assert by.loc[item, "status"] == status
        reason = by.loc[item, "reason"]
        assert words in reason and "\n" not in reason and by.loc[item, "feature_path"] == ""
    err = capsys.readouterr().err
    assert "5 extracted, 0 cached, 1 skipped, 4 failed" in err
    assert "skipped: 1 x silent" in err and "failed: 1 x truncated audio file" in err
    assert summarize(out).startswith("features: 10 rows: 5 extracted, 0 cached, 1 skipped")

    again = extract_features(manifest, tmp_path / "cache", SEG, n_jobs=1, progress=False)
    assert (again.set_index("item_id").loc[ok, "status"] == "cached").all()
    pd.testing.assert_frame_equal(
        again.drop(columns=["status"]), out.drop(columns=["status"]), check_dtype=False
    )


def test_parallel_extraction_matches_sequential(tmp_path):
    manifest = build_set(tmp_path / "db")
    seq = extract_features(manifest, tmp_path / "c1", SEG, n_jobs=1, progress=False)
    par = extract_features(manifest, tmp_path / "c2", SEG, n_jobs=2, progress=False)
    cols = ["item_id", "status", "start", "strategy", "n_active"]
    pd.testing.assert_frame_equal(seq[cols], par[cols])
    for a, b in zip(seq["feature_path"], par["feature_path"]):
        if a:
            np.testing.assert_array_equal(np.load(a), np.load(b))


def _all_entries_sound(cache_dir: Path) -> int:
    n = 0
    for path in cache_dir.rglob("*.npy"):
        assert np.load(path).shape == SHAPE  # no half-written entry
        n += 1
    return n


def test_interrupted_run_resumes_without_recomputing(tmp_path, monkeypatch):
    manifest = build_set(tmp_path / "db")
    cache = tmp_path / "cache"
    real = F.compute_item
    calls = []

    def interrupted(row, *args, **kw):
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run
        calls.append(row["item_id"])
        return real(row, *args, **kw)

    monkeypatch.setattr(F, "compute_item", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_features(manifest, cache, SEG, n_jobs=1, progress=False)
    assert _all_entries_sound(cache) == 3
    done = {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")}

    calls.clear()
    monkeypatch.setattr(F, "compute_item", lambda row, *a, **k: (calls.append(row["item_id"]),
                                                                 real(row, *a, **k))[1])
    out = extract_features(manifest, cache, SEG, n_jobs=1, progress=False)
    status = out.set_index("item_id")["status"]
    assert (status == "cached").sum() == 3 and (status == "extracted").sum() == 2
    assert not set(calls) & set(status[status == "cached"].index)  # nothing done twice
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())
    assert _all_entries_sound(cache) == 5


def test_killed_process_resumes(tmp_path):
    """SIGKILL a real extraction run midway; the rerun finishes the rest from the cache."""
    manifest = build_set(tmp_path / "db")
    manifest.save(tmp_path / "manifest.parquet")
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import time
        from timbral.config import FeatureConfig
        from timbral.data import features as F
        from timbral.data.manifest import Manifest
        real = F.compute_item
        def slow(*a, **k):
            time.sleep(0.4)
            return real(*a, **k)
        F.compute_item = slow
        m = Manifest.load({str(tmp_path / "manifest.parquet")!r})
        F.extract_features(m, {str(cache)!r}, FeatureConfig(segment_seconds=2.0), n_jobs=1,
                           progress=False)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.time() + 60
    try:
        while time.time() < deadline and len(list(cache.rglob("*.npy"))) < 2:
            assert proc.poll() is None, "the extraction ended before it could be killed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    n_done = _all_entries_sound(cache)
    assert 2 <= n_done < 5
    out = extract_features(Manifest.load(tmp_path / "manifest.parquet"), cache, SEG, n_jobs=1,
                           progress=False)
    status = out["status"].value_counts()
    assert status["cached"] == n_done and status["extracted"] == 5 - n_done
    assert _all_entries_sound(cache) == 5


def test_changed_settings_never_reuse_stale_entries(tmp_path):
    manifest = build_set(tmp_path / "db")
    cache = tmp_path / "cache"
    first = extract_features(manifest, cache, SEG, n_jobs=1, progress=False)
    ok = first["status"] == "extracted"

    other_seg = extract_features(manifest, cache, SEG, SegmentConfig(stem_strategy="threshold"),
                                 n_jobs=1, progress=False)
    assert (other_seg.loc[ok, "status"] == "extracted").all()
    assert not set(other_seg.loc[ok, "feature_path"]) & set(first.loc[ok, "feature_path"])

    small = FeatureConfig(segment_seconds=2.0, n_mels=64)
    other_feat = extract_features(manifest, cache, small, n_jobs=1, progress=False)
    assert (other_feat.loc[ok, "status"] == "extracted").all()
    assert np.load(other_feat.loc[0, "feature_path"]).shape == (64, SHAPE[1])

    # a rewritten audio file and an edited activation file invalidate their rows only
    stem = Path(manifest.rows.loc[1, "path"])
    sf.write(stem, _tone(8.0, 0.0, 8.0, 500.0), SR)
    os.utime(stem, ns=(time.time_ns(), stem.stat().st_mtime_ns + 10**9))
    again = extract_features(manifest, cache, SEG, n_jobs=1, progress=False)
    assert again.loc[1, "status"] == "extracted" and again.loc[2, "status"] == "cached"
    act = next((tmp_path / "db" / "Annotations").rglob("*.lab"))
    act.write_text(act.read_text().replace(",0.9", ",0.8"))  # same size: mtime tells
    os.utime(act, ns=(time.time_ns(), act.stat().st_mtime_ns + 10**9))
    again = extract_features(manifest, cache, SEG, n_jobs=1, progress=False)
    assert (again.loc[0:3, "status"] == "extracted").all()  # mix + stems: annotation changed
    assert again.loc[8, "status"] == "cached"  # short.flac has no annotations
