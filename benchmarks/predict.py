"""Tagging speed and memory on a 4-minute 44.1 kHz stereo song, against a naive tagger.

    .venv/bin/python benchmarks/predict.py [--model ARTIFACT] [--repeats 5]

Model: --model, else the default model (`$TIMBRAL_MODEL`, else runs/demo/best_model.pt), else
a freshly initialised improved_cnn artifact with the macro17 classes (said in the output;
random weights tag at the same speed as trained ones).

ours:  `Tagger.predict(path)`: blockwise decoding, streaming resampling, batched torch log-mel
       front end, model in ONNX Runtime, all cores.
naive: librosa.load of the whole file, librosa log-mel per window, the PyTorch model one
       window at a time.
Each runs in its own process, so its peak RSS (VmHWM) is its own; tracemalloc gives the
peak of Python/numpy allocations during one tagging call. The wall time of one song is the
median of --repeats warm calls (model loaded, first call excluded; the cold first call and the
load time are printed too). Last line: `seconds_per_4min_song: <ours, median wall seconds>`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

SR, SECONDS, CHANNELS = 44100, 240, 2


def make_song(path: Path, seed: int = 0) -> None:
    """A music-like stereo song: chords, a bass line, noise-burst drums, some silence."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(SR * SECONDS) / SR
    beat = 0.5  # 120 bpm
    y = np.zeros((len(t), CHANNELS), dtype=np.float32)
    for i, f0 in enumerate((110.0, 146.8, 164.8, 220.0)):
        bar = ((t // (4 * beat)).astype(int) + i) % 4
        freq = f0 * (1.0 + 0.25 * bar)
        tone = sum(np.sin(2 * np.pi * k * freq * t) / k for k in (1, 2, 3))
        y[:, i % CHANNELS] += (0.08 * tone).astype(np.float32)
    hits = (np.arange(0, SECONDS, beat) * SR).astype(int)
    decay = np.exp(-np.arange(int(0.12 * SR)) / (0.02 * SR)).astype(np.float32)
    for h in hits:
        n = min(len(decay), len(t) - h)
        burst = rng.standard_normal(n).astype(np.float32) * decay[:n] * 0.4
        y[h:h + n] += burst[:, None]
    y[int(100 * SR):int(104 * SR)] = 0.0  # a break
    sf.write(str(path), y / np.abs(y).max() * 0.9, SR, subtype="PCM_16")


def resolve_model(arg: str | None, tmp: Path) -> tuple[Path, str]:
    if arg:
        return Path(arg), f"{arg} (--model)"
    import torch

    from timbral.artifact import ModelArtifact
    from timbral.errors import ModelError
    from timbral.models import build_model
    from timbral.taxonomy import load_taxonomy

    env = os.environ.get("TIMBRAL_MODEL")
    unusable = ""
    for cand, why in ((env, "$TIMBRAL_MODEL"), ("runs/demo/best_model.pt", "default model")):
        if cand and Path(cand).is_file():
            try:
                ModelArtifact.load(cand).build_model()
            except ModelError as exc:  # e.g. written by an older version of the model code
                unusable = f"; {cand} does not load: {str(exc).splitlines()[0][:80]}"
                continue
            return Path(cand), f"{cand} ({why})"

    torch.manual_seed(0)
    classes = list(load_taxonomy("macro17").classes)
    model = build_model("improved_cnn", len(classes))
    path = tmp / "improved_cnn.pt"
    ModelArtifact("improved_cnn", classes, model.state_dict()).save(path)
    return path, ("freshly initialised improved_cnn (no usable default model"
                  f"{unusable or ': runs/demo/best_model.pt missing'})")


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def _rss_mib() -> float:
    """Peak resident memory of this process image: VmHWM (ru_maxrss would include the parent's
    peak, which Linux carries across fork and exec)."""
    try:
        return _status_mib("VmHWM")
    except (OSError, StopIteration):  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _rss_now_mib() -> float:
    try:
        return _status_mib("VmRSS")
    except (OSError, StopIteration):
        return float("nan")


def make_long(song: Path, path: Path, times: int) -> None:
    """`song` repeated `times` times, written block by block."""
    import soundfile as sf

    with sf.SoundFile(str(song)) as src:
        data = src.read(dtype="int16")
        with sf.SoundFile(str(path), "w", src.samplerate, src.channels, subtype="PCM_16") as dst:
            for _ in range(times):
                dst.write(data)


def worker_long(song: str, model: str, repeats: int) -> dict:
    from timbral import Tagger

    tagger = Tagger.load(model)
    base = _rss_now_mib()
    t0 = time.perf_counter()
    result = tagger.predict(song)
    return {"wall": time.perf_counter() - t0, "rss_mib": _rss_mib(), "base_mib": base,
            "duration": result.duration, "windows": len(result.starts)}


def worker_ours(song: str, model: str, repeats: int) -> dict:
    from timbral import Tagger

    t0 = time.perf_counter()
    tagger = Tagger.load(model)
    load_s = time.perf_counter() - t0
    base = _rss_now_mib()
    t0 = time.perf_counter()
    tagger.predict(song)
    cold_s = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = tagger.predict(song)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    tracemalloc.start()
    tagger.predict(song)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"load_s": load_s, "cold_s": cold_s, "walls": walls, "cpus": cpus, "rss_mib": _rss_mib(),
            "base_mib": base,
            "traced_mib": traced / 2**20, "windows": len(result.starts),
            "backend": tagger.backend, "max_buffered": tagger.max_buffered,
            "window": tagger.window, "hop": tagger.hop, "sr": tagger.feature.sr,
            "probs": result.window_probabilities.tolist()}


def worker_naive(song: str, model: str, repeats: int) -> dict:
    import librosa
    import torch

    from timbral.artifact import ModelArtifact
    from timbral.data.audio import peak_normalize
    from timbral.data.features import logmel
    from timbral.data.segments import window_starts

    art = ModelArtifact.load(model)
    net, cfg = art.build_model(), art.feature
    logmel(np.zeros(cfg.segment_samples, dtype=np.float32), cfg)  # load librosa's filterbank
    base = _rss_now_mib()

    def tag() -> np.ndarray:
        y, sr = librosa.load(song, sr=cfg.sr, mono=True, res_type="soxr_hq")
        n = cfg.segment_samples
        out = []
        for s in window_starts(len(y) / sr, cfg.segment_seconds, cfg.segment_seconds / 2):
            i = int(round(s * sr))
            w = np.pad(y[i:i + n], (0, max(0, n - len(y[i:i + n]))))
            x = torch.from_numpy(logmel(peak_normalize(w), cfg))[None, None]
            with torch.inference_mode():
                out.append(torch.sigmoid(net(x))[0].numpy())
        return np.stack(out)

    tag()  # warm-up, as for ours
    walls, cpus = [], []
    for _ in range(max(1, repeats // 2)):
        t0, c0 = time.perf_counter(), time.process_time()
        probs = tag()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    tracemalloc.start()
    tag()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"walls": walls, "cpus": cpus, "rss_mib": _rss_mib(), "base_mib": base, "traced_mib": traced / 2**20,
            "probs": probs.tolist()}


def run_worker(kind: str, song: Path, model: Path, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(song), str(model), str(repeats)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines() or ["(no output)"]
        sys.exit(f"benchmark worker {kind!r} failed: {lines[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, song, model, repeats = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        fn = {"ours": worker_ours, "naive": worker_naive, "long": worker_long}[kind]
        print(json.dumps(fn(song, model, repeats)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--long-minutes", type=int, default=20,
                    help="also tag the song repeated to this length (multiple of 4; 0: skip)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        song = tmp / "song.wav"
        make_song(song)
        model, which = resolve_model(args.model, tmp)
        decoded_mib = SR * SECONDS * CHANNELS * 4 / 2**20
        print(f"song: {SECONDS} s, {SR} Hz, {CHANNELS} ch, 16-bit WAV "
              f"({song.stat().st_size / 2**20:.1f} MiB; {decoded_mib:.1f} MiB as float32)")
        print(f"model: {which}")
        load0 = os.getloadavg()[0]
        print(f"cores: {len(os.sched_getaffinity(0))}; load average before: {load0:.2f}")
        ours = run_worker("ours", song, model, args.repeats)
        naive = run_worker("naive", song, model, args.repeats)
        long = None
        if args.long_minutes >= 4:
            long_song = tmp / "long.wav"
            make_long(song, long_song, args.long_minutes // 4)
            long = run_worker("long", long_song, model, 1)
    o_wall, n_wall = statistics.median(ours["walls"]), statistics.median(naive["walls"])
    o_cpu, n_cpu = statistics.median(ours["cpus"]), statistics.median(naive["cpus"])
    diff = float(np.max(np.abs(np.array(ours["probs"]) - np.array(naive["probs"]))))
    print(f"windows: {ours['windows']} ({ours['window']:g} s long, every {ours['hop']:g} s); "
          f"backend: {ours['backend']}")
    print(f"ours : load {ours['load_s']:.2f} s, first call {ours['cold_s']:.3f} s, "
          f"median {o_wall:.3f} s (min {min(ours['walls']):.3f}, max {max(ours['walls']):.3f}), "
          f"real-time factor {o_wall / SECONDS:.4f} ({SECONDS / o_wall:.0f}x real time), "
          f"CPU time {o_cpu:.3f} s")
    print(f"ours : peak RSS {ours['rss_mib']:.0f} MiB ({ours['base_mib']:.0f} MiB after loading "
          f"the model), traced peak {ours['traced_mib']:.1f} MiB, "
          f"most resampled samples held {ours['max_buffered']} "
          f"({ours['max_buffered'] / ours['sr']:.1f} s at {ours['sr']} Hz)")
    print(f"naive: median {n_wall:.3f} s, real-time factor {n_wall / SECONDS:.4f}, "
          f"CPU time {n_cpu:.3f} s, "
          f"peak RSS {naive['rss_mib']:.0f} MiB ({naive['base_mib']:.0f} MiB after loading), "
          f"traced peak {naive['traced_mib']:.1f} MiB")
    if long:
        print(f"ours, {long['duration'] / 60:.0f}-minute file ({long['windows']} windows): "
              f"{long['wall']:.2f} s, peak RSS {long['rss_mib']:.0f} MiB "
              f"({long['base_mib']:.0f} MiB after loading)")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other processes share the cores "
          "when it is above 0)")
    print(f"speed-up vs naive: {n_wall / o_wall:.1f}x wall, {n_cpu / o_cpu:.1f}x CPU time; "
          "largest probability difference "
          f"ours vs naive: {diff:.1e}")
    print(f"seconds_per_4min_song: {o_wall:.3f}")


if __name__ == "__main__":
    main()
