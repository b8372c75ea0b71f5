"""Segment + log-mel throughput on 4-minute 44.1 kHz stereo WAVs: ours against the reference.

    .venv/bin/python benchmarks/features.py [--files 6] [--minutes 4] [--rounds 3]
                                            [--our-passes 5]

reference: `librosa.load` of the whole file at 22,050 Hz, peak-normalise, start at the first
           sample above 0.5 (the reference's rule for stems), slice 15 s,
           `melspectrogram` + `power_to_db(ref=max)`.
ours:      `compute_item`, the extraction path for a file without annotations (the default
           for stems): a probed energy scan (0.1 s read every second) to choose the most active
           window, decoding only that window (seek), downmix, soxr resample, peak-normalise,
           torch log-mel. Also timed: the same with a full scan (every frame read), and with
           the window known (annotations give the start; no scan).
raw bound: reading the bytes each variant reads (os.pread) + the segment's FFTs
           (torch.fft.rfft of 646 x 2048 frames), nothing else.

Both run in this process on one thread (BLAS and torch limited to 1), on the same files, warm
in the page cache, interleaved pass by pass (a pass = every file once). Rates use the median
pass's CPU time of this process (single-threaded, so equal to wall time on an idle machine, and
robust to other processes sharing the cores); median wall times are printed beside them. Files
are generated in a temporary folder. Last line: `speedup: <ours / reference>` (segments/s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 44100
SEGMENT_S = 15.0


def make_songs(folder: Path, count: int, seconds: float) -> list[str]:
    """Music-like stereo PCM_16 songs: chords and a bass line changing per bar, noise-burst
    drums, and a louder 30 s section at a different place in each, so the energy choice has
    something to find. The tonal part is computed once and shifted per song."""
    import soundfile as sf

    n = int(seconds * SR)
    t = np.arange(n, dtype=np.float32) / SR
    bar = (t // 2.0).astype(np.int64)
    tonal = np.zeros((n, 2), dtype=np.float32)
    for i, f0 in enumerate((110.0, 164.8, 220.0)):
        freq = (f0 * (1.0 + 0.25 * ((bar + i) % 4))).astype(np.float32)
        phase = np.cumsum(2 * np.pi * freq / SR, dtype=np.float64).astype(np.float32)
        tonal[:, i % 2] += 0.1 * (np.sin(phase) + 0.5 * np.sin(2 * phase))
    decay = np.exp(-np.arange(int(0.1 * SR)) / (0.02 * SR)).astype(np.float32)
    paths = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        y = np.roll(tonal, int(rng.integers(0, n)), axis=0)
        burst = rng.standard_normal(len(decay)).astype(np.float32) * decay * 0.3
        for h in (np.arange(0, seconds - 0.2, 0.5) * SR).astype(int):
            y[h : h + len(decay)] += burst[:, None]
        loud = int(rng.uniform(20, seconds - 40) * SR)
        y[loud : loud + 30 * SR] *= 2.5
        path = folder / f"song{seed}.wav"
        sf.write(str(path), y / np.abs(y).max() * 0.9, SR, subtype="PCM_16")
        paths.append(str(path))
    return paths


def reference(path: str) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=22050)
    y = y / np.max(np.abs(y))
    n = int(SEGMENT_S * sr)
    start = int(np.argmax(y > 0.5)) if np.any(y > 0.5) else 0
    seg = y[start : start + n] if start + n <= len(y) else y[-n:]
    mel = librosa.feature.melspectrogram(y=seg, sr=sr)
    return librosa.power_to_db(mel, ref=np.max)


def read_ranges(path: str, ranges: list[tuple[int, int]]) -> None:
    """Read the byte ranges (offset, length) with os.pread and nothing else."""
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset, length in ranges:
            pos, end = offset, offset + length
            while pos < end:
                got = len(os.pread(fd, min(1 << 22, end - pos), pos))
                pos = pos + got if got else end
    finally:
        os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3, help="reference passes over the files")
    ap.add_argument("--our-passes", type=int, default=5, help="our passes per round")
    args = ap.parse_args()

    import librosa
    import torch
    from threadpoolctl import threadpool_limits

    from timbral.config import FeatureConfig, SegmentConfig
    from timbral.data import audio
    from timbral.data.features import LogMel, compute_item, logmel
    from timbral.data.segments import energy_window_start

    torch.set_num_threads(1)
    cfg, seg_cfg = FeatureConfig(), SegmentConfig(stem_strategy="energy")
    lm = LogMel(cfg).eval()
    frames = torch.zeros((cfg.n_frames, cfg.n_fft))  # the segment's frames, for the FFT cost
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = make_songs(Path(tmp), args.files, args.minutes * 60)
        size = sum(os.path.getsize(p) for p in paths)
        print(f"files: {args.files} x {args.minutes:g} min, 44.1 kHz stereo PCM_16 WAV "
              f"({size / 1e6:.0f} MB, generated in {time.perf_counter() - t0:.1f} s)")
        rows = [{"path": p, "kind": "stem", "item_id": Path(p).stem} for p in paths]
        starts: dict[str, float] = {}
        full_starts: dict[str, float] = {}
        full_rms: dict[str, tuple[np.ndarray, float]] = {}

        def ours() -> None:  # the extraction path (probed energy scan), minus the cache write
            for row in rows:
                _, choice = compute_item(row, "", cfg, seg_cfg, None)
                starts[row["path"]] = choice.start

        def segment_logmel(p: str, start: float) -> None:
            y = audio.load_segment(p, start, SEGMENT_S, cfg.sr)
            with torch.inference_mode():
                lm(torch.from_numpy(y))

        def ours_full_scan() -> None:
            for p in paths:
                info = audio.audio_info(p)
                scan = audio.scan_energy(p, info=info, mode="full")
                start = min(energy_window_start(scan.rms, scan.hop_s, SEGMENT_S),
                            max(0.0, info.duration - SEGMENT_S))
                full_starts[p], full_rms[p] = start, (scan.rms, scan.hop_s)
                segment_logmel(p, start)

        def ours_known() -> None:
            for p in paths:
                segment_logmel(p, starts[p])

        def window(p: str) -> tuple[int, int]:
            return 44 + int(starts[p] * SR) * 4, int(SEGMENT_S * SR) * 4

        def probes(p: str) -> list[tuple[int, int]]:
            hop, n = int(audio.PROBE_HOP_SECONDS * SR), int(audio.PROBE_SECONDS * SR)
            return [(44 + s * 4, n * 4) for s in range(0, audio.audio_info(p).frames, hop)]

        def bound(ranges) -> None:
            for p in paths:
                read_ranges(p, ranges(p))
                torch.fft.rfft(frames, dim=1)

        def reference_pass() -> None:
            for p in paths:
                reference(p)

        variants = {
            "reference": (reference_pass, 1),
            "ours": (ours, args.our_passes),
            "full": (ours_full_scan, args.our_passes),
            "known": (ours_known, args.our_passes),
            "bound": (lambda: bound(lambda p: probes(p) + [window(p)]), args.our_passes),
            "bound_full": (lambda: bound(lambda p: [(44, os.path.getsize(p) - 44)]),
                           args.our_passes),
            "bound_known": (lambda: bound(lambda p: [window(p)]), args.our_passes),
        }
        passes: dict[str, list[float]] = {name: [] for name in variants}  # wall seconds
        cpu: dict[str, list[float]] = {name: [] for name in variants}  # CPU seconds
        with threadpool_limits(limits=1):
            for fn, _ in variants.values():  # warm up: page cache, imports, first calls
                fn()
            t0 = time.perf_counter()
            for _ in range(args.rounds):
                for name, (fn, n) in variants.items():
                    for _ in range(n):
                        t, c = time.perf_counter(), time.process_time()
                        fn()
                        passes[name].append(time.perf_counter() - t)
                        cpu[name].append(time.process_time() - c)
            wall = time.perf_counter() - t0

            # the same window through both computations: how far ours is from the reference
            p = paths[0]
            y_ref, _ = librosa.load(p, sr=22050)
            j = int(round(starts[p] * 22050))
            seg = y_ref[j : j + cfg.segment_samples]
            diff = float(np.abs(compute_item(rows[0], "", cfg, seg_cfg, None)[0]
                                - logmel(seg / np.abs(seg).max(), cfg)).max())

    # a pass = every file once; per segment: median wall time, median CPU time of the process
    n = len(paths)
    wall_ms = {k: 1000 * float(np.median(v)) / n for k, v in passes.items()}
    cpu_ms = {k: 1000 * float(np.median(v)) / n for k, v in cpu.items()}
    rate = {k: 1000 / cpu_ms[k] for k in passes}  # segments/s of CPU time
    wall_rate = {k: 1000 / wall_ms[k] for k in passes}
    load = os.getloadavg()[0]

    def window_rms(p: str, start: float) -> float:  # mean RMS of a window, from the full scan
        rms, hop = full_rms[p]
        return float(rms[int(round(start / hop)) :][: int(round(SEGMENT_S / hop))].mean())

    kept = [window_rms(p, starts[p]) / window_rms(p, full_starts[p]) for p in paths]
    labels = {
        "reference": "reference: librosa.load whole file, slice, librosa log-mel",
        "ours": "ours: probed energy scan, seek, resample, torch log-mel",
        "full": "ours with a full energy scan (every frame read)",
        "known": "ours with the window known (annotations): no scan",
        "bound": "raw bound for ours: read the probes' + window's bytes, FFTs",
        "bound_full": "raw bound, full scan: read all bytes, FFTs",
        "bound_known": "raw bound, window known: read the window's bytes, FFTs",
    }
    print(f"timed {wall:.1f} s, one thread each, {args.rounds} interleaved rounds; "
          f"{SEGMENT_S:g} s segments -> {cfg.n_mels} x {cfg.n_frames}; load average {load:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"  {'median per segment':<62} segments/s   CPU ms  (wall ms, segments/s)")
    for name, label in labels.items():
        print(f"  {label:<62} {rate[name]:7.1f}  {cpu_ms[name]:7.1f}  "
              f"({wall_ms[name]:6.1f}, {wall_rate[name]:6.1f})")
    print(f"ours / raw bound: {rate['ours'] / rate['bound']:.2f} (probed scan), "
          f"{rate['full'] / rate['bound_full']:.2f} (full scan), "
          f"{rate['known'] / rate['bound_known']:.2f} (window known)")
    print(f"vs reference: {rate['full'] / rate['reference']:.1f}x (full scan), "
          f"{rate['known'] / rate['reference']:.1f}x (window known)")
    print(f"probed scan's window / full scan's window, mean RMS: min {min(kept):.3f} over "
          f"{len(paths)} songs")
    print(f"same window, ours vs librosa log-mel: max |diff| {diff:.4f} dB")
    print(f"wall-time speedup (slowed unevenly by other load): "
          f"{wall_rate['ours'] / wall_rate['reference']:.1f}")
    print(f"speedup: {rate['ours'] / rate['reference']:.1f}")


if __name__ == "__main__":
    main()
