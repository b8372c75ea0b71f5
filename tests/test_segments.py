"""Segment choice: window functions (property-tested) and the per-row rules on a built tree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from timbral.config import FeatureConfig, SegmentConfig
from timbral.data.medleydb import ACTIVATION_HOP_SECONDS, Activations
from timbral.data.segments import (
    SilentAudioError,
    activity_counts,
    activity_window_start,
    choose_segment,
    energy_window_start,
    pitch_window_start,
    threshold_start,
    window_starts,
)
from timbral.errors import AudioError, ConfigError

EPS = 1e-6
SR = 8000  # small files: the rules only look at time, not at audio quality
CFG = FeatureConfig()  # 15 s segments
FAST = settings(max_examples=60, deadline=None)

# --------------------------------------------------------------------- pure window functions

durations = st.floats(0.0, 600.0, allow_nan=False)
lengths = st.floats(0.5, 60.0, allow_nan=False)


@FAST
@given(durations, lengths, st.floats(0.05, 30.0))
def test_window_starts_cover_the_file(duration, window, hop):
    starts = window_starts(duration, window, hop)
    assert starts[0] == 0.0
    assert np.all(np.diff(starts) > 0)
    assert np.all(np.diff(starts) <= hop + EPS)
    assert np.all(starts >= 0) and np.all(starts <= max(0.0, duration - window) + EPS)
    assert starts[-1] + window >= duration - EPS  # the tail is covered


def test_window_starts_examples():
    np.testing.assert_allclose(window_starts(10, 4, 2), [0, 2, 4, 6])
    np.testing.assert_allclose(window_starts(11, 4, 2), [0, 2, 4, 6, 7])
    np.testing.assert_allclose(window_starts(3, 4, 2), [0])
    with pytest.raises(ConfigError):
        window_starts(10, 4, 0)


rms_arrays = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=0, max_size=300)


@FAST
@given(rms_arrays, st.floats(0.05, 1.0), st.floats(0.5, 40.0))
def test_energy_window_start_is_the_best_window_inside_the_signal(rms, hop, segment):
    rms = np.asarray(rms)
    start = energy_window_start(rms, hop, segment)
    assert 0.0 <= start <= max(0.0, len(rms) * hop - segment) + EPS
    k = int(round(start / hop))
    assert abs(k * hop - start) < EPS
    w = int(np.ceil(segment / hop - 1e-9))
    if len(rms) > w:  # brute force: no window scores higher, none earlier scores as high
        scores = np.array([rms[i : i + w].sum() for i in range(len(rms) - w + 1)])
        assert scores[k] >= scores.max() - 1e-9


def test_energy_window_start_finds_the_loud_part():
    rms = np.full(600, 0.01)
    rms[300:450] = 0.5  # 30-45 s at 0.1 s hops
    assert energy_window_start(rms, 0.1, 15.0) == pytest.approx(30.0)
    assert energy_window_start(rms[:100], 0.1, 15.0) == 0.0  # shorter than the window


@st.composite
def activations(draw):
    n_steps = draw(st.integers(1, 400))
    n_stems = draw(st.integers(0, 4))
    hop = ACTIVATION_HOP_SECONDS * draw(st.sampled_from([1, 8, 32]))
    times = np.arange(n_steps) * hop
    by_stem = {
        f"S{i + 1:02d}": np.asarray(draw(st.lists(st.floats(0, 1), min_size=n_steps,
                                                  max_size=n_steps)))
        for i in range(n_stems)
    }
    return Activations(times=times, by_stem=by_stem)


@FAST
@given(activations(), st.floats(1.0, 40.0), st.one_of(st.none(), st.floats(0.0, 500.0)))
def test_activity_window_start_is_inside_and_optimal(acts, segment, duration):
    start = activity_window_start(acts, segment, 0.5, duration)
    end = acts.times[-1] + acts.hop_seconds if duration is None else duration
    assert 0.0 <= start <= max(0.0, end - segment) + EPS
    if end > segment:  # brute force over the candidate starts
        counts = activity_counts(acts, 0.5)
        w = max(1, int(round(segment / acts.hop_seconds)))
        cand = [k for k, t in enumerate(acts.times) if t <= end - segment + 1e-9]
        if cand:
            best = max(counts[k : k + w].sum() for k in cand)
            k = int(np.argmin(np.abs(acts.times - start)))
            assert counts[k : k + w].sum() == best


def _step_activations(spans: dict[str, tuple[float, float]], total: float) -> Activations:
    times = np.arange(0, total, ACTIVATION_HOP_SECONDS)
    return Activations(
        times=times,
        by_stem={s: ((times >= a) & (times < b)).astype(float) for s, (a, b) in spans.items()},
    )


def test_activity_window_start_known_window():
    # all three stems overlap only in 35-50 s: the 15 s window starting at 35 s is the best
    acts = _step_activations({"S01": (32, 52), "S02": (30, 50), "S03": (35, 58)}, 60)
    assert activity_window_start(acts, 15.0, 0.5, 60.0) == pytest.approx(35.0, abs=0.05)
    # a longer window is clamped to the end of the file
    assert activity_window_start(acts, 50.0, 0.5, 60.0) <= 10.0 + EPS


voiced_tracks = st.lists(
    st.tuples(st.floats(0, 200), st.floats(0, 200), st.booleans()), min_size=0, max_size=5
)


@FAST
@given(voiced_tracks, st.floats(1.0, 30.0), st.floats(0.0, 400.0))
def test_pitch_window_start_centres_on_the_mean_centre(spans, segment, duration):
    pitch, centres = [], []
    for a, b, voiced in spans:
        lo, hi = min(a, b), max(a, b)
        t = np.linspace(lo, hi, 50)
        f0 = np.full(50, 220.0 if voiced else 0.0)
        pitch.append((t, f0))
        if voiced:
            centres.append((lo + hi) / 2)
    start = pitch_window_start(pitch, segment, duration)
    if not centres:
        assert start is None
        return
    assert 0.0 <= start <= max(0.0, duration - segment) + EPS
    wanted = np.mean(centres) - segment / 2
    if 0 <= wanted <= duration - segment:
        assert start == pytest.approx(wanted)


def test_pitch_window_start_uses_seconds_not_samples():
    # the stems' activity is centred on 100 s: the window must be around it, not at 0
    pitch = [(np.array([80.0, 90.0, 120.0]), np.array([0.0, 200.0, 210.0])),
             (np.array([95.0, 105.0]), np.array([300.0, 310.0]))]
    assert pitch_window_start(pitch, 15.0, 300.0) == pytest.approx((105 + 100) / 2 - 7.5)


@FAST
@given(st.lists(st.floats(-1, 1), min_size=0, max_size=500), st.floats(0.05, 0.95))
def test_threshold_start_is_the_first_sample_above(values, threshold):
    y = np.asarray(values, dtype=np.float32)
    sr = 100
    start = threshold_start(y, sr, threshold)
    assert 0.0 <= start <= max(0, len(y) - 1) / sr + EPS
    peak = np.abs(y).max() if len(y) else 0
    if peak > 0:
        i = int(round(start * sr))
        assert abs(y[i]) > threshold * peak
        assert np.all(np.abs(y[:i]) <= threshold * peak)


def test_threshold_start_of_silence_is_zero():
    assert threshold_start(np.zeros(100), 100) == 0.0


# -------------------------------------------------------------------- choose_segment on a tree

TRACK = "Band_Song"
STEMS = {"S01": "female singer", "S02": "electric bass", "S03": "drum set"}
CLASSES = {"S01": "voice", "S02": "bass", "S03": "drums"}


def _tone(seconds: float, spans: list[tuple[float, float]], freq: float, amp=0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    gate = np.zeros_like(t)
    for a, b in spans:
        gate[(t >= a) & (t < b)] = 1.0
    return (amp * gate * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def build_tree(
    root: Path,
    spans: dict[str, tuple[float, float]] | None = None,
    seconds: float = 60.0,
    activations: bool = True,
    pitch: dict[str, tuple[float, float]] | None = None,
    mix_spans: list[tuple[float, float]] | None = None,
) -> dict:
    """One song: 3 stems gated by `spans`, their sum as the mix, an activation file (MedleyDB
    download layout) and optional pitch annotations. Returns manifest-like rows."""
    spans = spans or {"S01": (32, 52), "S02": (30, 50), "S03": (35, 58)}
    song = root / "Audio" / TRACK
    (song / f"{TRACK}_STEMS").mkdir(parents=True)
    meta = {
        "artist": "Band", "title": "Song", "genre": "Pop", "has_bleed": "no",
        "mix_filename": f"{TRACK}_MIX.wav", "stem_dir": f"{TRACK}_STEMS",
        "raw_dir": f"{TRACK}_RAW",
        "stems": {sid: {"filename": f"{TRACK}_STEM_{sid[1:]}.wav", "instrument": lab,
                        "component": ""} for sid, lab in STEMS.items()},
    }
    (song / f"{TRACK}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    mix = np.zeros(int(seconds * SR), dtype=np.float32)
    rows = {}
    for i, sid in enumerate(STEMS):
        y = _tone(seconds, [spans[sid]], 200.0 * (i + 1))
        mix += y
        path = song / f"{TRACK}_STEMS" / f"{TRACK}_STEM_{sid[1:]}.wav"
        sf.write(path, y, SR)
        rows[sid] = {"item_id": f"{TRACK}_STEM_{sid}", "track_id": TRACK, "kind": "stem",
                     "path": str(path), "stem_id": sid, "classes": [CLASSES[sid]]}
    if mix_spans is not None:
        mix = _tone(seconds, mix_spans, 300.0)
    sf.write(song / f"{TRACK}_MIX.wav", np.stack([mix, 0.5 * mix], axis=1), SR)
    rows["mix"] = {"item_id": f"{TRACK}_MIX", "track_id": TRACK, "kind": "mix",
                   "path": str(song / f"{TRACK}_MIX.wav"), "stem_id": "",
                   "classes": ["voice", "bass", "drums"]}
    if activations:
        times = np.arange(0, seconds, ACTIVATION_HOP_SECONDS)
        cols = {s: np.where((times >= a) & (times < b), 0.9, 0.1) for s, (a, b) in spans.items()}
        act = root / "Annotations" / "Instrument_Activations" / "ACTIVATION_CONF"
        act.mkdir(parents=True)
        lines = ["time," + ",".join(cols)] + [
            f"{t:.5f}," + ",".join(f"{cols[s][k]:.3f}" for s in cols) for k, t in enumerate(times)
        ]
        (act / f"{TRACK}_ACTIVATION_CONF.lab").write_text("\n".join(lines) + "\n")
    for sid, (a, b) in (pitch or {}).items():
        folder = root / "Annotations" / "Pitch_Annotations"
        folder.mkdir(parents=True, exist_ok=True)
        t = np.arange(a, b, 0.1)
        (folder / f"{TRACK}_STEM_{sid[1:]}.csv").write_text(
            "\n".join(f"{x:.3f},{220.0:.1f}" for x in t) + "\n")
    return rows


def test_mix_starts_where_most_stems_are_active(tmp_path):
    rows = build_tree(tmp_path)
    choice = choose_segment(rows["mix"], tmp_path, CFG, SegmentConfig())
    assert choice.strategy == "activity"
    assert choice.start == pytest.approx(35.0, abs=0.05)
    assert choice.active_classes == ["voice", "bass", "drums"]
    assert choice.n_active == 3


def test_mix_active_classes_follow_the_window(tmp_path):
    rows = build_tree(tmp_path, spans={"S01": (0, 15), "S02": (0, 15), "S03": (40, 60)})
    choice = choose_segment(rows["mix"], tmp_path, CFG, SegmentConfig())
    assert choice.start == pytest.approx(0.0, abs=0.05)  # two stems at once beat one
    assert choice.active_classes == ["voice", "bass"]
    late = choose_segment(rows["mix"], tmp_path, CFG, SegmentConfig(mix_strategy="start"))
    assert late.strategy == "start" and late.start == 0.0


def test_mix_falls_back_to_pitch_then_energy(tmp_path):
    rows = build_tree(tmp_path / "a", activations=False,
                      pitch={"S01": (20, 40), "S02": (30, 50)})  # centres 30 and 40
    choice = choose_segment(rows["mix"], tmp_path / "a", CFG, SegmentConfig())
    assert choice.strategy == "pitch"
    assert choice.start == pytest.approx(35.0 - 7.5, abs=0.1)
    assert choice.active_classes is None and choice.n_active == -1

    rows = build_tree(tmp_path / "b", activations=False, mix_spans=[(40, 55)])
    choice = choose_segment(rows["mix"], tmp_path / "b", CFG, SegmentConfig())
    assert choice.strategy == "energy"
    assert choice.start == pytest.approx(40.0, abs=0.15)


def test_stem_strategies(tmp_path):
    spans = {"S01": (5, 6), "S02": (30, 45), "S03": (35, 58)}
    rows = build_tree(tmp_path, spans=spans)
    energy = choose_segment(rows["S02"], tmp_path, CFG, SegmentConfig(stem_strategy="energy"))
    assert energy.strategy == "energy" and energy.start == pytest.approx(30.0, abs=0.15)
    assert energy.active_classes == ["bass"]
    thr = choose_segment(rows["S03"], tmp_path, CFG, SegmentConfig(stem_strategy="threshold"))
    assert thr.strategy == "threshold"
    assert thr.start == pytest.approx(35.0, abs=0.01)
    assert thr.active_classes == ["drums"]
    late = choose_segment(rows["S03"], tmp_path, FeatureConfig(segment_seconds=30.0),
                          SegmentConfig(stem_strategy="threshold"))
    assert late.start == pytest.approx(30.0)  # clamped: 60 s file, 30 s window
    quiet = choose_segment(rows["S01"], tmp_path, CFG, SegmentConfig())
    assert quiet.active_classes == []  # active for 1 s of the window only


def test_short_and_silent_files(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, _tone(3.0, [(0, 3)], 440.0), SR)
    choice = choose_segment({"path": str(short), "kind": "stem"}, "", CFG, SegmentConfig())
    assert (choice.start, choice.strategy, choice.active_classes) == (0.0, "short", None)

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(20 * SR, dtype=np.float32), SR)
    for cfg in (SegmentConfig(), SegmentConfig(stem_strategy="threshold")):
        with pytest.raises(SilentAudioError) as err:
            choose_segment({"path": str(silent), "kind": "stem"}, "", CFG, cfg)
        assert "silent" in str(err.value) and "\n" not in str(err.value)
    sf.write(tmp_path / "silent_short.wav", np.zeros(SR, dtype=np.float32), SR)
    with pytest.raises(SilentAudioError):
        choose_segment({"path": str(tmp_path / "silent_short.wav"), "kind": "mix"}, "", CFG,
                       SegmentConfig())
    with pytest.raises(AudioError, match="no audio path"):
        choose_segment({"path": "", "kind": "mix", "item_id": "x"}, "", CFG, SegmentConfig())


def test_silent_mix_with_activations_is_reported(tmp_path):
    rows = build_tree(tmp_path, mix_spans=[])  # annotations say active, the audio is silent
    with pytest.raises(SilentAudioError, match="silent at 35.0"):
        choose_segment(rows["mix"], tmp_path, CFG, SegmentConfig())
