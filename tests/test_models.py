"""Models: the reference CNN's exact shape and size, the improved CNN and the descriptor
baseline on any number of frames, ONNX export."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from timbral.errors import ModelError
from timbral.models import MODELS, build_model, count_parameters
from timbral.models.descriptors import DescriptorFeatures, dct_matrix
from timbral.models.reference import CeilMaxPool2d, ReferenceCNN

N_CLASSES = 17


def logmel_batch(batch: int, frames: int, n_mels: int = 128, seed: int = 0) -> torch.Tensor:
    """Random dB values in [-80, 0], like power_to_db(ref=max)."""
    g = torch.Generator().manual_seed(seed)
    return -80.0 * torch.rand(batch, 1, n_mels, frames, generator=g)


def test_registry_has_the_three_models():
    assert {"reference_cnn", "improved_cnn", "descriptor_logreg"} <= set(MODELS)


def test_reference_parameter_count():
    model = ReferenceCNN(N_CLASSES)
    assert count_parameters(model) == 528_145
    per_layer = [m.weight.numel() + m.bias.numel() for m in model.modules()
                 if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    assert per_layer == [320, 18_496, 73_856, 295_168, 131_584, 8_721]


def test_reference_shape_table():
    """128 x 862 -> 43 x 288 -> 15 x 96 -> 5 x 32 after the three pools (Keras 'same')."""
    model = ReferenceCNN(N_CLASSES).eval()
    shapes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
             for m in model.modules() if isinstance(m, CeilMaxPool2d)]
    with torch.no_grad():
        out = model(logmel_batch(1, 862))
    for h in hooks:
        h.remove()
    assert shapes == [(32, 43, 288), (64, 15, 96), (128, 5, 32)]
    assert out.shape == (1, N_CLASSES)


@pytest.mark.parametrize("name", ["reference_cnn", "improved_cnn", "descriptor_logreg"])
@pytest.mark.parametrize("frames", [1, 7, 44, 216, 646])
def test_forward_shape_for_any_frame_count(name, frames):
    model = build_model(name, N_CLASSES).eval()
    with torch.no_grad():
        out = model(logmel_batch(3, frames))
    assert out.shape == (3, N_CLASSES)
    assert torch.isfinite(out).all()


def test_models_take_other_class_and_mel_counts():
    for name in MODELS:
        model = build_model(name, 5, n_mels=64).eval()
        with torch.no_grad():
            assert model(logmel_batch(2, 50, n_mels=64)).shape == (2, 5)


@pytest.mark.parametrize("frames", [1, 5, 216, 646])
def test_improved_frame_activity(frames):
    model = build_model("improved_cnn", N_CLASSES).eval()
    x = logmel_batch(2, frames)
    with torch.no_grad():
        act = model.frame_activity(x)
        clip = model(x)
    assert act.shape == (2, N_CLASSES, -(-frames // 8))
    assert ((act >= 0) & (act <= 1)).all()
    # the clip logit is a convex combination of the frame logits
    frames_logit = torch.logit(act.double()).float()
    assert (clip <= frames_logit.amax(-1) + 1e-4).all() and (clip >= frames_logit.amin(-1) - 1e-4).all()


def test_improved_clip_logit_is_the_mean_frame_logit():
    model = build_model("improved_cnn", N_CLASSES).eval()
    x = logmel_batch(2, 216)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.frame_logits(x).mean(-1))


@pytest.mark.parametrize("kwargs", [{"attention": True}, {"band_norm": True},
                                    {"channels": (8, 16, 32, 64)}])
def test_improved_variants(kwargs):
    model = build_model("improved_cnn", N_CLASSES, **kwargs).eval()
    with torch.no_grad():
        assert model(logmel_batch(2, 216)).shape == (2, N_CLASSES)
        assert model.frame_activity(logmel_batch(2, 216)).shape == (2, N_CLASSES, 27)


def test_improved_is_smaller_than_reference():
    assert count_parameters(build_model("improved_cnn", N_CLASSES)) < 528_145 // 2


def test_unknown_model_and_bad_keyword_are_model_errors():
    with pytest.raises(ModelError, match="unknown model"):
        build_model("resnet9000", 3)
    with pytest.raises(ModelError, match="improved_cnn"):
        build_model("improved_cnn", 3, no_such_option=1)


def test_mfcc_equals_librosa():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(22050).astype(np.float32)
    s_db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050), ref=np.max)
    feats = DescriptorFeatures(n_mfcc=20)
    with torch.no_grad():
        ours = feats.per_frame(torch.from_numpy(s_db)[None, None])[0, :20].numpy()
    ref = librosa.feature.mfcc(S=s_db, n_mfcc=20)
    np.testing.assert_allclose(ours, ref, atol=1e-3 * np.abs(ref).max())


def test_dct_matrix_is_orthonormal():
    d = dct_matrix(128, 128).double()
    torch.testing.assert_close(d @ d.T, torch.eye(128, dtype=torch.float64), atol=1e-5, rtol=0)


def test_descriptors_of_flat_and_single_band_spectra():
    feats = DescriptorFeatures()
    n = feats.dct.shape[0]
    flat = torch.zeros(1, 1, 128, 10)  # every band at 0 dB
    single = torch.full((1, 1, 128, 10), -80.0)
    single[:, :, 60] = 0.0
    with torch.no_grad():
        pf_flat, pf_single = feats.per_frame(flat), feats.per_frame(single)
    centroid, flatness, contrast = n, n + 1, slice(n + 2, None)
    assert torch.allclose(pf_flat[:, flatness], torch.ones(1, 10))
    assert torch.allclose(pf_flat[:, contrast], torch.zeros_like(pf_flat[:, contrast]))
    assert pf_single[:, flatness].max() < 0.01
    centre_khz = float(feats.centres_khz[60])
    assert torch.allclose(pf_single[:, centroid], torch.full((1, 10), centre_khz), rtol=1e-3)
    # the sub-band holding band 60: the mean of its k loudest bands is -80 (k - 1) / k dB
    k = next(k for start, size, k in feats.groups if start <= 60 < start + size)
    assert pf_single[:, contrast].max() == pytest.approx(80.0 / k)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's legacy exporter
@pytest.mark.parametrize("name", ["reference_cnn", "improved_cnn", "descriptor_logreg"])
def test_onnx_export_opset17_matches_torch(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = build_model(name, N_CLASSES).eval()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(
        model, (logmel_batch(2, 100),), str(path), opset_version=17, dynamo=False,
        input_names=["logmel"], output_names=["logits"],
        dynamic_axes={"logmel": {0: "batch", 3: "frames"}, "logits": {0: "batch"}},
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for frames in (100, 37):
        x = logmel_batch(3, frames, seed=frames)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {"logmel": x.numpy()})[0]
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
