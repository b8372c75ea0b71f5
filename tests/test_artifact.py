"""The model artifact: round trip, and refusal of tampered, truncated or mismatched files."""

from __future__ import annotations

import json

import pytest
import torch

from timbral.artifact import ModelArtifact
from timbral.config import FeatureConfig, SegmentConfig
from timbral.errors import ModelError
from timbral.models import build_model

CLASSES = ["drums", "bass", "voice"]


def make_artifact(name: str = "improved_cnn", **changes) -> ModelArtifact:
    torch.manual_seed(0)
    kwargs = {"n_mels": 32}
    model = build_model(name, len(CLASSES), **kwargs)
    fields = dict(
        model_name=name, classes=CLASSES, state_dict=model.state_dict(), model_kwargs=kwargs,
        taxonomy={"name": "toy", "classes": CLASSES},
        feature=FeatureConfig(n_mels=32, segment_seconds=2.0),
        segment=SegmentConfig(mix_strategy="energy"), thresholds=[0.4, 0.5, 0.6],
        training={"config": {"lr": 3e-4}, "epochs_run": 3, "best_epoch": 1},
        metrics={"val_loss": 0.5, "val_auc": 0.75},
    )
    fields.update(changes)
    return ModelArtifact(**fields)


@pytest.mark.parametrize("name", ["reference_cnn", "improved_cnn", "descriptor_logreg"])
def test_round_trip(tmp_path, name):
    art = make_artifact(name)
    path = art.save(tmp_path / "m" / "model.pt")
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]  # no temp left
    back = ModelArtifact.load(path)
    assert back.meta() == art.meta()
    assert back.feature == art.feature and back.segment == art.segment
    x = -80 * torch.rand(2, 1, 32, 40)
    with torch.no_grad():
        torch.testing.assert_close(back.build_model()(x), art.build_model()(x))


def test_default_thresholds_are_half():
    art = make_artifact(thresholds=None)
    assert art.thresholds == [0.5, 0.5, 0.5]


def test_loaded_with_weights_only(tmp_path, monkeypatch):
    path = make_artifact().save(tmp_path / "model.pt")
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    ModelArtifact.load(path)
    assert seen.get("weights_only") is True


def test_tampered_weights_refused(tmp_path):
    path = make_artifact().save(tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = payload["state_dict"][name] + 1e-3
    torch.save(payload, path)
    with pytest.raises(ModelError, match="checksum mismatch"):
        ModelArtifact.load(path)


def test_tampered_metadata_refused(tmp_path):
    path = make_artifact().save(tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta_json"])
    meta["thresholds"] = [0.01, 0.01, 0.01]
    payload["meta_json"] = json.dumps(meta, sort_keys=True)
    torch.save(payload, path)
    with pytest.raises(ModelError, match="checksum mismatch"):
        ModelArtifact.load(path)


def test_truncated_and_foreign_files_refused(tmp_path):
    path = make_artifact().save(tmp_path / "model.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a timbral model artifact"):
        ModelArtifact.load(path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelError, match="not a timbral model artifact"):
        ModelArtifact.load(other)
    with pytest.raises(ModelError, match="not found"):
        ModelArtifact.load(tmp_path / "missing.pt")


class NotAWeight:
    """An arbitrary object: unpickling it needs weights_only=False, which load refuses."""


def test_pickled_objects_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"meta_json": "{}", "state_dict": {}, "sha256": "", "x": NotAWeight()}, path)
    with pytest.raises(ModelError, match="not a timbral model artifact"):
        ModelArtifact.load(path)


def test_weights_of_another_model_refused(tmp_path):
    """Weights of one architecture recorded under another name: a valid file, a clear error."""
    reference_weights = build_model("reference_cnn", len(CLASSES)).state_dict()
    art = make_artifact("improved_cnn", state_dict=reference_weights)
    back = ModelArtifact.load(art.save(tmp_path / "model.pt"))
    with pytest.raises(ModelError, match="do not fit improved_cnn"):
        back.build_model()


def test_class_count_mismatch_refused(tmp_path):
    weights = build_model("improved_cnn", 5, n_mels=32).state_dict()
    art = make_artifact(state_dict=weights)  # 3 classes, weights for 5
    with pytest.raises(ModelError, match="do not fit"):
        ModelArtifact.load(art.save(tmp_path / "model.pt")).build_model()
    with pytest.raises(ModelError, match="thresholds"):
        make_artifact(thresholds=[0.5])


def test_unknown_model_and_format_refused(tmp_path):
    art = make_artifact(model_name="no_such_model")
    with pytest.raises(ModelError, match="unknown model"):
        ModelArtifact.load(art.save(tmp_path / "a.pt")).build_model()

    path = make_artifact().save(tmp_path / "b.pt")
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta_json"])
    meta["format_version"] = 99
    payload["meta_json"] = json.dumps(meta, sort_keys=True)
    torch.save(payload, path)
    with pytest.raises(ModelError, match="format 99"):
        ModelArtifact.load(path)


def test_incomplete_metadata_refused(tmp_path):
    """A file with a valid checksum whose metadata lacks a field is refused, not a KeyError."""
    from timbral import artifact as artifact_module

    path = make_artifact().save(tmp_path / "model.pt")
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta_json"])
    del meta["classes"]
    payload["meta_json"] = json.dumps(meta, sort_keys=True)
    payload["sha256"] = artifact_module._digest(payload["meta_json"], payload["state_dict"])
    torch.save(payload, path)
    with pytest.raises(ModelError, match="classes"):
        ModelArtifact.load(path)
