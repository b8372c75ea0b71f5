"""Balancing: spectrogram warps, re-extraction, stem remixing, class counts, split hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from timbral.config import FeatureConfig, SegmentConfig
from timbral.data.audio import load_segment
from timbral.data.augment import (
    BalanceConfig,
    augment_spectrogram,
    balance_training_set,
    pitch_shift,
    time_stretch,
)
from timbral.data.clips import ClipSet
from timbral.data.features import logmel
from timbral.data.manifest import build_manifest
from timbral.data.reextract import active_window_starts, reextract_clip
from timbral.data.remix import ActivityRule, RemixPlan, render_remix
from timbral.errors import ConfigError, DatasetError

SR = 8000
SECONDS = 4.0
FEAT = FeatureConfig(sr=SR, n_fft=256, hop_length=64, n_mels=32, segment_seconds=1.0)
SEG = SegmentConfig()

# track -> [(stem fine label, signal kind)], signals: sine:<hz>, noise, burst (noise in 0-2 s only)
TRACKS = {
    "Alpha_One": [("violin", "sine:440"), ("electric bass", "sine:110"), ("drum set", "burst")],
    "Beta_Two": [("flute", "sine:880"), ("electric bass", "sine:98")],
    "Gamma_Three": [("piano", "sine:262"), ("violin", "sine:660")],
    "Delta_Four": [("trumpet", "sine:523"), ("drum set", "noise")],  # validation
    "Epsilon_Five": [("violin", "sine:330"), ("flute", "sine:990")],  # test
}
TRAIN = ("Alpha_One", "Beta_Two", "Gamma_Three")


def _signal(kind: str, seed: int) -> np.ndarray:
    t = np.arange(int(SECONDS * SR)) / SR
    rng = np.random.default_rng(seed)
    if kind.startswith("sine:"):
        return 0.3 * np.sin(2 * np.pi * float(kind[5:]) * t) * (1 + 0.2 * np.sin(2 * np.pi * 0.5 * t))
    y = 0.3 * rng.standard_normal(len(t))
    if kind == "burst":
        y[t >= 2.0] = 0.0
    return y


def make_tree(root: Path):
    for n, (track, stems) in enumerate(TRACKS.items()):
        folder = root / "Audio" / track
        (folder / f"{track}_STEMS").mkdir(parents=True)
        meta = {"artist": track.split("_")[0], "title": track.split("_")[1], "genre": "Rock",
                "has_bleed": "no", "instrumental": "yes", "mix_filename": f"{track}_MIX.wav",
                "stem_dir": f"{track}_STEMS", "raw_dir": f"{track}_RAW", "stems": {}}
        mix = np.zeros(int(SECONDS * SR))
        for i, (label, kind) in enumerate(stems, start=1):
            y = _signal(kind, 10 * n + i)
            name = f"{track}_STEM_{i:02d}.wav"
            sf.write(folder / f"{track}_STEMS" / name, y, SR)
            meta["stems"][f"S{i:02d}"] = {"component": "", "filename": name, "instrument": label}
            mix += y
        sf.write(folder / f"{track}_MIX.wav", mix / np.abs(mix).max(), SR)
        (folder / f"{track}_METADATA.yaml").write_text(yaml.safe_dump(meta))
    return build_manifest(root, kinds="mix,stem")


def train_inputs(manifest, feat_dir: Path):
    rows = manifest.rows[manifest.rows["track_id"].isin(TRAIN)].reset_index(drop=True)
    feat_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for item, path in zip(rows["item_id"], rows["path"]):
        out = feat_dir / f"{item}.npy"
        np.save(out, logmel(load_segment(path, 0.0, FEAT.segment_seconds, SR), FEAT).astype(np.float16))
        paths.append(str(out))
    rows = rows.assign(start=0.0, feature_path=paths)
    y = manifest.y[manifest.rows["track_id"].isin(TRAIN).to_numpy()]
    return rows, ClipSet(paths, y, manifest.classes, rows["item_id"].tolist())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("medleydb")
    manifest = make_tree(root)
    rows, train = train_inputs(manifest, root / "features")
    return manifest, rows, train, root


def run(corpus, out: Path, **kw):
    manifest, rows, train, _ = corpus
    n_jobs = kw.pop("n_jobs", 1)
    cfg = BalanceConfig(**{"seed": 0, **kw})
    return balance_training_set(rows, train, manifest, out, FEAT, SEG, cfg, n_jobs=n_jobs,
                                progress=False)


# --- spectrogram warps ------------------------------------------------------------------

def _spec(seed=0, shape=(32, 50)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-80.0, 0.0, size=shape).astype(np.float32)


def test_time_stretch_keeps_shape_and_pads_with_the_floor():
    S = _spec()
    shorter = time_stretch(S, 0.5)
    assert shorter.shape == S.shape
    assert np.all(shorter[:, 26:] == S.min())  # 50 * 0.5 = 25 columns of content
    assert S.min() < -70  # the floor is far from 0 dB, which the reference padded with
    longer = time_stretch(S, 1.5)
    assert longer.shape == S.shape and longer.min() >= S.min() - 1e-4
    np.testing.assert_allclose(time_stretch(S, 1.0), S, atol=1e-5)


def test_pitch_shift_keeps_shape_and_pads_with_the_floor():
    S = _spec(1)
    down = pitch_shift(S, -12.0)  # factor 0.5: the top half of the mel axis is padding
    assert down.shape == S.shape
    assert np.all(down[17:] == S.min())
    up = pitch_shift(S, 12.0)  # factor 2: low bins spread up, the top is cropped
    assert up.shape == S.shape
    np.testing.assert_allclose(up[0], S[0], atol=1e-5)
    assert np.all(pitch_shift(S, 5.0, fill=-123.0) >= -123.0)


def test_augment_spectrogram_is_seeded_and_follows_its_probabilities():
    S = _spec(2)
    a, what_a = augment_spectrogram(S, np.random.default_rng(7))
    b, what_b = augment_spectrogram(S, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert what_a == what_b and a.shape == S.shape
    never = BalanceConfig(p_stretch=0.0, p_shift=0.0)
    same, what = augment_spectrogram(S, np.random.default_rng(0), never)
    np.testing.assert_array_equal(same, S)
    assert what == "unchanged"
    always = BalanceConfig(p_stretch=1.0, p_shift=1.0)
    out, what = augment_spectrogram(S, np.random.default_rng(0), always)
    assert "time_stretch(" in what and "pitch_shift(" in what and out.shape == S.shape


@pytest.mark.parametrize("bad", [
    {"target": "min"}, {"target": 0}, {"reextract_prob": 1.5}, {"p_shift": -0.1},
    {"stretch_range": (0.0, 1.0)}, {"stretch_range": (1.5, 0.5)}, {"remix_min_stems": 0},
    {"max_new": -1}, {"remix_gain_db": (0.0, -6.0)},
])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError, match=r"^balance\."):
        BalanceConfig(**bad)


# --- re-extraction ----------------------------------------------------------------------

def test_reextraction_picks_an_active_window(tmp_path):
    y = np.zeros(int(6 * SR))
    y[int(3.5 * SR): int(5.0 * SR)] = 0.5 * np.sin(2 * np.pi * 300 * np.arange(int(1.5 * SR)) / SR)
    path = tmp_path / "late.wav"
    sf.write(path, y, SR)
    starts = active_window_starts(load_segment(path, 0.0, None, SR), FEAT, -30.0, 0.5) / SR
    assert starts.min() >= 3.5 - 0.5 - 0.05 and starts.max() <= 4.5 + 0.05
    S, start = reextract_clip(str(path), 3, FEAT, -30.0, 0.5)
    assert S.shape == (FEAT.n_mels, FEAT.n_frames)
    assert 2.9 <= start <= 4.55


# --- stem remixing ----------------------------------------------------------------------

def _alpha_plan(corpus, activation=None) -> RemixPlan:
    manifest, rows, *_ = corpus
    stems = rows[(rows["track_id"] == "Alpha_One") & (rows["kind"] == "stem")]
    return RemixPlan(
        track_id="Alpha_One", item_ids=tuple(stems["item_id"]), stem_ids=tuple(stems["stem_id"]),
        paths=tuple(stems["path"]), classes=tuple(tuple(c) for c in stems["classes"]),
        gains_db=(0.0, -3.0, -6.0), seed=1, activation=activation,
    )


def test_remix_labels_are_the_classes_active_in_the_window(corpus):
    plan = _alpha_plan(corpus)
    early = render_remix(plan, FEAT, start=0.5)  # the drum stem plays in 0-2 s only
    assert early.classes == ("strings", "bass", "drums") and early.active == (True, True, True)
    late = render_remix(plan, FEAT, start=2.5)  # ... and is silent here: no drums label
    assert late.classes == ("strings", "bass") and late.active == (True, True, False)
    assert late.spectrogram.shape == (FEAT.n_mels, FEAT.n_frames)


def test_remix_activity_comes_from_the_annotation_when_there_is_one(corpus, tmp_path):
    hop = 2048 / 44100
    times = np.arange(0, SECONDS, hop)
    lab = tmp_path / "Alpha_One_ACTIVATION_CONF.lab"
    # the annotation says the bass rests after 2 s, although its audio goes on
    lines = ["time,S01,S02,S03"] + [
        f"{t:.4f},1.0,{1.0 if t < 2 else 0.0},{1.0 if t < 2 else 0.0}" for t in times
    ]
    lab.write_text("\n".join(lines) + "\n")
    late = render_remix(_alpha_plan(corpus, str(lab)), FEAT, ActivityRule(), start=2.5)
    assert late.classes == ("strings",)


# --- the balancing stage ----------------------------------------------------------------

def test_every_class_reaches_the_target_and_counts_add_up(corpus, tmp_path):
    _, rows, train, _ = corpus
    result = run(corpus, tmp_path / "bal")
    before = {c: int(v) for c, v in zip(train.classes, train.y.sum(axis=0))}
    assert result.counts_before == before
    balanced = train.concat(result.extra)
    assert result.counts_after == {c: int(v) for c, v in zip(train.classes, balanced.y.sum(axis=0))}
    filled = [c for c in train.classes if c not in result.skipped]
    assert set(filled) == {"strings", "bass", "drums", "woodwinds", "piano"}
    assert result.target > max(before.values())  # remixes raised the largest count
    for c in filled:
        assert result.counts_after[c] == result.target, c
    assert "no single-label" in result.skipped["brass"]  # brass exists only in validation
    assert set(result.table["method"]) == {"reextract", "augment", "remix"}
    single = result.table["method"] != "remix"
    assert (result.extra.y[single.to_numpy()].sum(axis=1) == 1).all()
    for i in range(len(result.extra)):
        assert result.extra.load(i).shape == (FEAT.n_mels, FEAT.n_frames)
    remixes = result.table[~single]
    assert len(remixes) == 2 * len(TRAIN)
    frame = result.counts_frame()
    assert (frame["after"] - frame["before"] == frame["added"]).all()


def test_balancing_is_deterministic_and_cached(corpus, tmp_path, monkeypatch):
    first = run(corpus, tmp_path / "a")
    second = run(corpus, tmp_path / "b", n_jobs=2)
    assert first.table.equals(second.table)
    for p, q in zip(first.extra.paths, second.extra.paths):
        np.testing.assert_array_equal(np.load(p), np.load(q))
    # a rerun with the same inputs reads the cache: no task runs at all
    import timbral.data.augment as augment

    def boom(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(augment, "run_tasks", boom)
    again = run(corpus, tmp_path / "a")
    assert again.table.equals(first.table) and again.counts_after == first.counts_after
    with pytest.raises(AssertionError, match="recomputed"):  # a changed setting does not reuse
        run(corpus, tmp_path / "a", seed=1)
    monkeypatch.undo()
    other = run(corpus, tmp_path / "a", seed=1)
    assert not other.table["item_id"].equals(first.table["item_id"])
    assert len(list((tmp_path / "a").glob("balance-*.json"))) == 2


def test_validation_and_test_items_are_never_read(tmp_path, monkeypatch):
    manifest = make_tree(tmp_path / "db")
    rows, train = train_inputs(manifest, tmp_path / "features")
    held_out = manifest.rows[~manifest.rows["track_id"].isin(TRAIN)]
    for path in held_out["path"]:  # poison: any read of these would fail loudly
        Path(path).write_bytes(b"not audio")
    opened: list[str] = []
    real_info, real_file = sf.info, sf.SoundFile
    monkeypatch.setattr(sf, "info", lambda p, *a, **k: opened.append(str(p)) or real_info(p, *a, **k))
    monkeypatch.setattr(sf, "SoundFile", lambda p, *a, **k: opened.append(str(p)) or real_file(p, *a, **k))
    result = balance_training_set(rows, train, manifest, tmp_path / "bal", FEAT, SEG,
                                  BalanceConfig(seed=3), n_jobs=1, progress=False)
    assert opened, "the audio hooks saw nothing"
    assert not set(opened) & set(held_out["path"])
    assert set(opened) <= set(rows["path"])
    sources = {s for ids in result.table["source_item_ids"] for s in ids}
    assert sources <= set(rows["item_id"])
    assert not result.table["details"].str.contains("failed").any()


def test_cap_on_new_examples(corpus, tmp_path):
    result = run(corpus, tmp_path / "cap", max_new=6)
    assert len(result.extra) == 6
    assert (result.table["method"] == "remix").sum() == 3


def test_no_remix_and_a_fixed_target(corpus, tmp_path):
    _, _, train, _ = corpus
    result = run(corpus, tmp_path / "fixed", target=5, remix_per_track=0, reextract_prob=1.0)
    assert result.target == 5 and set(result.table["method"]) == {"reextract"}
    for c in ("strings", "bass", "drums", "woodwinds", "piano"):
        assert result.counts_after[c] == 5
    summary = json.loads(next((tmp_path / "fixed").glob("balance-*.json")).read_text())
    assert len(summary["entries"]) == len(result.extra)


def test_disabled_adds_nothing(corpus, tmp_path):
    result = run(corpus, tmp_path / "off", enabled=False)
    assert len(result.extra) == 0 and result.counts_after == result.counts_before


def test_rows_and_clips_must_agree(corpus, tmp_path):
    manifest, rows, train, _ = corpus
    with pytest.raises(DatasetError, match="disagree"):
        balance_training_set(rows.iloc[::-1], train, manifest, tmp_path, FEAT, SEG,
                             progress=False)


def test_a_failed_reextraction_falls_back_to_augmentation(tmp_path, caplog):
    manifest = make_tree(tmp_path / "db")
    rows, train = train_inputs(manifest, tmp_path / "features")
    gone = rows.loc[rows["item_id"] == "Beta_Two_STEM_S01", "path"].item()
    Path(gone).unlink()  # its features exist, its audio no longer does
    result = balance_training_set(rows, train, manifest, tmp_path / "bal", FEAT, SEG,
                                  BalanceConfig(reextract_prob=1.0, remix_per_track=0),
                                  n_jobs=1, progress=False)
    flute = result.table[result.table["classes"].map(lambda c: c == ["woodwinds"])]
    assert len(flute) > 0 and (flute["method"] == "augment").all()
    assert flute["details"].str.contains("file not found").all()
    assert result.counts_after["woodwinds"] == result.target
    assert "augmenting instead" in caplog.text
