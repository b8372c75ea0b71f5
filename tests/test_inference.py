"""Tagger: result shape, windows, aggregation, thresholds, array/file agreement, agreement with
the training feature path, backends, batching, streaming memory."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch

from timbral import Tagger
from timbral.artifact import ModelArtifact
from timbral.config import FeatureConfig
from timbral.data.audio import load_segment, peak_normalize
from timbral.data.features import LogMel
from timbral.errors import AudioError, ConfigError
from timbral.inference.sources import FileSource
from timbral.inference.windows import WindowStream
from timbral.models import build_model

CLASSES = ["bass", "drums", "guitar"]
FEATURE = FeatureConfig(sr=8000, n_fft=256, hop_length=128, n_mels=32, segment_seconds=1.0)


def make_artifact(path, thresholds=None, model="reference_cnn"):
    torch.manual_seed(0)
    net = build_model(model, len(CLASSES), n_mels=FEATURE.n_mels)
    art = ModelArtifact(model, CLASSES, net.state_dict(), model_kwargs={"n_mels": FEATURE.n_mels},
                        feature=FEATURE, thresholds=thresholds)
    return art.save(path)


def music(seconds=3.3, sr=44100, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.7 * t))
    y = tone[:, None] + 0.05 * rng.standard_normal((len(t), channels))
    return (y / np.abs(y).max() * 0.8).astype(np.float32)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("model") / "model.pt")


@pytest.fixture(scope="module")
def tagger(model_path):
    return Tagger.load(model_path)


def test_result_has_the_documented_json_shape(tagger, model_path):
    y = music()
    d = tagger.predict(y, sr=44100).to_dict()
    assert list(d)[:6] == ["file", "duration", "sr", "model", "instruments", "timeline"]
    assert d["file"] == "<array>" and d["sr"] == 44100 and d["duration"] == pytest.approx(3.3)
    assert d["model"] == str(model_path)
    assert [i["name"] for i in d["instruments"]] == CLASSES
    for inst in d["instruments"]:
        assert set(inst) == {"name", "probability", "present"}
        assert 0.0 <= inst["probability"] <= 1.0 and isinstance(inst["present"], bool)
    for w in d["timeline"]:
        assert set(w) == {"start", "end", "probabilities"} and list(w["probabilities"]) == CLASSES
    assert d["padded"] is False and d["silent"] is False and d["aggregate"] == "max"
    assert json.loads(json.dumps(d)) == d


def test_windows_cover_the_file_with_half_overlap(tagger):
    r = tagger.predict(music(3.3), sr=44100)
    assert tagger.hop == 0.5
    np.testing.assert_allclose(r.starts, [0, 0.5, 1.0, 1.5, 2.0, 2.3])  # last aligned to the end
    np.testing.assert_allclose(r.ends, r.starts + 1.0)
    assert r.window_probabilities.shape == (6, 3)


def test_array_and_file_agree(tagger, tmp_path):
    y = music()
    path = tmp_path / "song.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    from_file, from_array = tagger.predict(path), tagger.predict(y, sr=44100)
    np.testing.assert_allclose(from_file.window_probabilities, from_array.window_probabilities,
                               atol=1e-6)
    a, b = from_file.to_dict(), from_array.to_dict()
    assert a.pop("file") == str(path) and b.pop("file") == "<array>"
    assert a == b
    # channels-first arrays (librosa's layout) are understood too
    np.testing.assert_allclose(tagger.predict(y.T, sr=44100).window_probabilities,
                               from_array.window_probabilities, atol=1e-6)


def test_windows_match_the_training_feature_path(model_path, tmp_path):
    """Each timeline entry equals what training computes for that segment: load_segment,
    peak normalisation, LogMel, model."""
    path = tmp_path / "song.flac"
    sf.write(path, music(4.0, sr=48000), 48000)
    art = ModelArtifact.load(model_path)
    tagger = Tagger(art, backend="torch")
    r = tagger.predict(path)
    net, front = art.build_model(), LogMel(FEATURE)
    for start, probs in zip(r.starts, r.window_probabilities):
        y = load_segment(path, start, FEATURE.segment_seconds, FEATURE.sr, normalize=False)
        with torch.inference_mode():
            x = front(torch.from_numpy(peak_normalize(y)))
            expected = torch.sigmoid(net(x))[0].numpy()
        np.testing.assert_allclose(probs, expected, atol=1e-4)


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_clip_probability_aggregates_windows(model_path, aggregate):
    r = Tagger.load(model_path, aggregate=aggregate).predict(music(), sr=44100)
    agg = getattr(r.window_probabilities, aggregate)(axis=0)
    np.testing.assert_allclose(r.probabilities, agg, atol=1e-7)
    assert r.to_dict()["aggregate"] == aggregate


def test_artifact_thresholds_and_override(tmp_path):
    path = make_artifact(tmp_path / "m.pt", thresholds=[0.0, 1.0, 0.0])
    r = Tagger.load(path).predict(music(), sr=44100)
    assert r.present.tolist() == [True, False, True]
    assert r.instruments == sorted(["bass", "guitar"], key=lambda c: -r.probabilities[CLASSES.index(c)])
    assert Tagger.load(path, threshold=0.0).predict(music(), sr=44100).present.all()
    assert not Tagger.load(path, threshold=1.0).predict(music(), sr=44100).present.any()
    ranges = r.active_ranges("bass")
    assert ranges == [(0.0, pytest.approx(3.3))]  # threshold 0: every window, merged


def test_custom_hop(model_path):
    r = Tagger.load(model_path, hop=1.0).predict(music(3.3), sr=44100)
    np.testing.assert_allclose(r.starts, [0.0, 1.0, 2.0, 2.3])


@pytest.mark.parametrize("options", [
    {"hop": 0}, {"hop": -1.0}, {"threshold": 1.5}, {"aggregate": "median"}, {"batch_size": 0},
    {"backend": "tensorflow"},
])
def test_bad_settings_are_config_errors(model_path, options):
    with pytest.raises(ConfigError):
        Tagger.load(model_path, **options)


def test_array_needs_sample_rate(tagger):
    with pytest.raises(ConfigError, match="sample rate"):
        tagger.predict(music())
    with pytest.raises(ConfigError, match="sample rate"):
        tagger.predict(music(), sr=0)


def test_non_finite_audio_is_refused(tagger):
    y = music()
    y[1000, 0] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        tagger.predict(y, sr=44100)


def test_onnxruntime_and_torch_backends_agree(model_path):
    y = music(seed=3)
    ort_t, torch_t = Tagger.load(model_path, backend="onnxruntime"), Tagger.load(model_path, backend="torch")
    assert (ort_t.backend, torch_t.backend) == ("onnxruntime", "torch")
    np.testing.assert_allclose(ort_t.predict(y, sr=44100).window_probabilities,
                               torch_t.predict(y, sr=44100).window_probabilities, atol=1e-5)


def test_batch_size_and_cross_file_batching_do_not_change_results(model_path, tmp_path):
    ys = [music(s, seed=i) for i, s in enumerate((0.4, 2.2, 3.3, 1.7))]
    one = Tagger.load(model_path, batch_size=1)
    many = Tagger.load(model_path, batch_size=5)
    singles = [one.predict(y, sr=44100) for y in ys]
    batched = [out for _, out in many.predict_many(ys, sr=44100)]
    for a, b in zip(singles, batched):
        np.testing.assert_allclose(a.window_probabilities, b.window_probabilities, atol=1e-6)


def test_predict_many_reports_errors_in_order_and_goes_on(tagger, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, music(), 44100)
    items = [good, tmp_path / "missing.wav", good]
    outs = list(tagger.predict_many(items))
    assert [item for item, _ in outs] == items
    assert isinstance(outs[1][1], AudioError) and "missing.wav: file not found" in str(outs[1][1])
    assert outs[0][1].to_dict() == outs[2][1].to_dict()


def test_partly_silent_audio_gets_zero_probabilities_there(tagger):
    y = music(4.0)
    y[: int(1.6 * 44100)] = 0.0
    r = tagger.predict(y, sr=44100)
    silent = r.ends <= 1.6
    assert silent.any() and not r.silent
    assert np.all(r.window_probabilities[silent] == 0) and np.all(r.window_probabilities[~silent] > 0)
    assert any("silent" in n for n in r.notes)


def test_csv_rows_and_table(tagger):
    r = tagger.predict(music(), sr=44100)
    rows = r.to_csv_rows()
    assert [row["kind"] for row in rows] == ["clip"] + ["window"] * len(r.starts)
    assert list(rows[0]) == r.csv_header()
    assert rows[0]["end"] == pytest.approx(3.3)
    present = set(rows[0]["present"].split(";")) - {""}
    assert present == set(r.instruments)
    text = r.to_table()
    assert text.splitlines()[0].startswith("<array>") and "44100 Hz" in text


def test_plot_writes_a_png(tagger, tmp_path):
    r = tagger.predict(music(), sr=44100)
    out = r.plot(tmp_path / "plots" / "song.png")
    assert (tmp_path / "plots" / "song.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.axes[0].get_title(loc="left").startswith("<array>")


def test_long_file_streams_in_bounded_memory(tmp_path):
    """An hour of 16 kHz audio (~230 MB as float32) is tagged holding one window plus one
    block of resampled audio at a time."""
    path, sr, block = tmp_path / "hour.wav", 16000, 1 << 16
    rng = np.random.default_rng(0)
    chunk = (rng.standard_normal(sr * 60) * 3000).astype(np.int16)
    with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16") as f:
        for _ in range(60):
            f.write(chunk)
    source = FileSource(path)
    assert source.duration == 3600
    stream = WindowStream(source, sr=8000, window=10.0, hop=10.0, block_frames=block)
    tracemalloc.start()
    n = sum(1 for _ in stream)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 360
    assert stream.max_chunk <= block // 2 + 1024  # 16 kHz -> 8 kHz
    assert stream.max_buffered < 10 * 8000 + 2 * stream.max_chunk
    decoded = 3600 * sr * 4
    assert peak < 4 * 2**20 < decoded / 50, f"peak {peak / 2**20:.1f} MiB"
    assert len(stream.envelope) <= 2001


@pytest.mark.parametrize("name", ["reference_cnn", "improved_cnn", "descriptor_logreg"])
def test_every_registered_model_tags_the_same_on_both_backends(tmp_path, name):
    path = make_artifact(tmp_path / f"{name}.pt", model=name)
    y = music(2.0, seed=5)
    auto, eager = Tagger.load(path), Tagger.load(path, backend="torch")
    assert auto.backend == "onnxruntime"  # every registered model runs in ONNX Runtime
    np.testing.assert_allclose(auto.predict(y, sr=44100).window_probabilities,
                               eager.predict(y, sr=44100).window_probabilities, atol=1e-5)


@pytest.mark.parametrize("hop,block", [(0.5, 1000), (0.37, 4096), (1.6, 777), (1.0, 1 << 17)])
def test_streamed_windows_equal_slices_of_the_whole_resampled_signal(hop, block):
    """Cutting windows from streamed, incrementally resampled blocks gives exactly the
    windows of the whole signal resampled at once (any hop, gaps included; any block size)."""
    import soxr

    from timbral.inference.sources import ArraySource

    y = music(5.3, sr=44100)
    whole = soxr.resample(y.mean(axis=1), 44100, 8000, quality="HQ")
    stream = WindowStream(ArraySource(y, 44100), sr=8000, window=1.0, hop=hop, block_frames=block)
    windows = list(stream)
    assert [w.start for w in windows] == stream.starts and len(windows) >= 3
    for w in windows:
        i = int(round(w.start * 8000))
        expected = np.pad(whole[i:i + 8000], (0, max(0, i + 8000 - len(whole))))
        np.testing.assert_allclose(w.samples, expected, atol=1e-6)
        assert w.peak == pytest.approx(np.abs(expected).max())
    # held: what the next window needs plus at most one partly used and one new chunk
    assert stream.max_buffered < 8000 + 2 * stream.max_chunk
    assert stream.max_chunk <= block * 8000 / 44100 + 1024  # a block, plus resampler latency


def test_artifact_that_does_not_fit_its_model_is_named(tmp_path):
    from timbral.errors import ModelError

    torch.manual_seed(0)
    weights = build_model("reference_cnn", 3).state_dict()
    path = ModelArtifact("improved_cnn", CLASSES, weights, feature=FEATURE).save(tmp_path / "x.pt")
    with pytest.raises(ModelError, match=r"x\.pt: artifact weights do not fit improved_cnn"):
        Tagger.load(path)
