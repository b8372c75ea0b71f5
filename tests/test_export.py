"""ONNX export: the graph ONNX Runtime runs gives PyTorch's probabilities (within 1e-4)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from test_inference import CLASSES, FEATURE, make_artifact, music

from timbral import Tagger
from timbral.artifact import ModelArtifact
from timbral.cli import main
from timbral.inference.frontend import FrontEnd
from timbral.inference.onnx_export import export_onnx


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("model") / "model.pt", thresholds=[0.3, 0.5, 0.7])


def windows(n=3):
    """Peak-varied mono windows at the model's rate, one of them shorter (zero-padded)."""
    ys = [music(FEATURE.segment_seconds, sr=FEATURE.sr, channels=1, seed=i)[:, 0] * (0.2 + i)
          for i in range(n)]
    ys[-1][len(ys[-1]) // 2:] = 0.0
    return np.stack(ys).astype(np.float32)


def torch_probs(model_path, y):
    art = ModelArtifact.load(model_path)
    with torch.inference_mode():
        return torch.sigmoid(art.build_model()(FrontEnd(art.feature)(y))).numpy()


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_waveform_graph_matches_pytorch(model, tmp_path):
    out = tmp_path / "model.onnx"
    res = export_onnx(model, out)
    assert res.frontend_inside and res.input_name == "waveform"
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == 17
    y = windows()
    got = session(out).run(None, {"waveform": y})[0]
    np.testing.assert_allclose(got, torch_probs(model, y), atol=1e-4)


def test_logmel_graph_matches_pytorch_and_documents_the_front_end(model, tmp_path):
    out = tmp_path / "m.onnx"
    res = export_onnx(model, out, frontend="beside")
    assert not res.frontend_inside and res.input_name == "logmel"
    y = windows()
    feats = FrontEnd(FEATURE)(y).numpy()
    got = session(out).run(None, {"logmel": feats})[0]
    np.testing.assert_allclose(got, torch_probs(model, y), atol=1e-4)
    desc = json.loads(res.description.read_text())
    assert desc["classes"] == CLASSES and desc["thresholds"] == [0.3, 0.5, 0.7]
    assert desc["input"]["shape"] == ["batch", 1, FEATURE.n_mels, FEATURE.n_frames]
    steps = " ".join(desc["input"]["frontend"]["steps"])
    for fact in ("8000 Hz", "n_fft=256", "hop_length=128", "n_mels=32", "ref=max", "peak"):
        assert fact in steps
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["classes"]) == CLASSES


def test_exported_model_reproduces_the_tagger_timeline(model, tmp_path):
    """Windows cut by the tagger, run through the exported file, give its timeline."""
    out = tmp_path / "model.onnx"
    export_onnx(model, out)
    tagger = Tagger.load(model, backend="torch")
    y = music(2.6, sr=FEATURE.sr, channels=1)[:, 0]
    r = tagger.predict(y, sr=FEATURE.sr)
    n = FEATURE.segment_samples
    cut = [y[int(round(s * FEATURE.sr)):][:n] for s in r.starts]
    cut = [np.pad(c, (0, n - len(c))) for c in cut]
    got = session(out).run(None, {"waveform": np.stack(cut)})[0]
    np.testing.assert_allclose(got, r.window_probabilities, atol=1e-4)


def test_export_cli(model, tmp_path, capsys):
    out = tmp_path / "exported" / "tagger.onnx"
    assert main(["export", "--model", str(model), "--format", "onnx", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "exported" / "tagger.onnx.json").is_file()
    assert "front end inside" in capsys.readouterr().err
    assert not list(out.parent.glob(".*tmp"))
    assert main(["export", "--model", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
    assert "none.pt: model artifact not found" in capsys.readouterr().err
