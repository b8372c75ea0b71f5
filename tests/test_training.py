"""Training: outputs, early stopping with best weights restored, determinism, DDP, the
descriptor baseline against scikit-learn."""

from __future__ import annotations

import csv
import dataclasses

import joblib
import numpy as np
import pytest
import torch

from timbral.artifact import ModelArtifact
from timbral.config import FeatureConfig, SegmentConfig
from timbral.data.clips import ClipSet
from timbral.errors import ConfigError, DatasetError, ModelError
from timbral.training import TRAIN_PRESETS, TrainConfig, train_baseline, train_model
from timbral.training.baseline import descriptor_matrix
from timbral.training.log import COLUMNS
from timbral.training.metrics import macro_auc

CLASSES = ["drums", "bass", "voice"]
FEATURE = FeatureConfig(n_mels=32, segment_seconds=1.0)  # 32 x 44 clips
SHAPE = (FEATURE.n_mels, FEATURE.n_frames)
FAST = TrainConfig(max_epochs=2, patience=2, batch_size=8, accelerator="cpu", devices=1)


def write_clips(root, n: int, seed: int, shape=SHAPE, flip_labels: bool = False) -> ClipSet:
    """Log-mels in [-80, 0] where class c lifts its own band of mel rows: learnable."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    y = rng.random((n, len(CLASSES))) < 0.5
    y[np.arange(n), np.arange(n) % len(CLASSES)] = True  # every class present
    paths = []
    for i in range(n):
        x = rng.normal(-50.0, 6.0, shape)
        for c in np.flatnonzero(y[i]):
            x[8 * c + 2: 8 * c + 8] += 25.0
        x = np.clip(x - x.max(), -80.0, 0.0).astype(np.float16)
        path = root / f"clip{seed}_{i}.npy"
        np.save(path, x)
        paths.append(str(path))
    return ClipSet(paths, ~y if flip_labels else y, CLASSES)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return write_clips(root, 32, seed=1), write_clips(root, 12, seed=2)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# --- settings --------------------------------------------------------------------------------

def test_defaults_are_the_reference_settings():
    cfg = TrainConfig()
    assert (cfg.lr, cfg.batch_size, cfg.max_epochs, cfg.patience) == (3e-4, 32, 300, 50)
    assert (cfg.seed, cfg.deterministic, cfg.tensorboard) == (0, True, False)
    assert TRAIN_PRESETS["full"] == cfg
    assert TRAIN_PRESETS["tiny"].max_epochs == 2
    assert TRAIN_PRESETS["demo"].max_epochs < cfg.max_epochs
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 1.0


@pytest.mark.parametrize("bad", [{"lr": 0}, {"batch_size": 0}, {"max_epochs": 0},
                                 {"patience": -1}, {"precision": "8-bit"}, {"lr": "fast"}])
def test_bad_settings_are_config_errors(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        TrainConfig(**bad)


def test_with_overrides_refuses_unknown_names():
    assert TrainConfig().with_overrides(max_epochs=3).max_epochs == 3
    with pytest.raises(ConfigError, match="epochz"):
        TrainConfig().with_overrides(epochz=3)


def test_macro_auc_skips_classes_without_both_labels():
    target = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]])
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.5], [0.8, 0.2, 0.5], [0.1, 0.4, 0.5]])
    assert macro_auc(target, scores) == 1.0  # only class 0 counts
    assert np.isnan(macro_auc(target[:, 1:], scores[:, 1:]))


# --- CNN training ----------------------------------------------------------------------------

def test_train_writes_artifact_log_and_checkpoint(clips, tmp_path):
    train, val = clips
    out = tmp_path / "improved"
    res = train_model("improved_cnn", train, val, out, FAST, FEATURE, SegmentConfig(),
                      taxonomy={"name": "toy"}, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["best.ckpt", "model.pt", "training_log.csv"]
    rows = read_csv(res.log_csv)
    assert tuple(rows[0]) == COLUMNS
    assert [int(r["epoch"]) for r in rows] == [0, 1] and res.epochs_run == 2
    losses = [float(r["val_loss"]) for r in rows]
    assert res.best_epoch == int(np.argmin(losses))
    assert res.val_metrics["val_loss"] == pytest.approx(min(losses))
    art = ModelArtifact.load(res.artifact_path)
    assert art.model_name == "improved_cnn" and art.classes == CLASSES
    assert art.thresholds == [0.5] * 3 and art.taxonomy == {"name": "toy"}
    assert art.feature == FEATURE
    # every constructor default is recorded, so a later default change cannot alter the model
    assert art.model_kwargs == {"n_mels": 32, "channels": [16, 32, 64, 128], "dropout": 0.3,
                                "band_norm": False, "attention": False}
    assert art.training["config"]["max_epochs"] == 2 and art.training["best_epoch"] == res.best_epoch
    assert art.metrics["val_loss"] == pytest.approx(res.val_metrics["val_loss"])
    assert torch.load(res.best_checkpoint, weights_only=True)["epoch"] == res.best_epoch


def val_loss_of(artifact_path, val: ClipSet) -> float:
    model = ModelArtifact.load(artifact_path).build_model()
    x = torch.stack([torch.from_numpy(val.load(i))[None] for i in range(len(val))])
    with torch.no_grad():
        logits = model(x)
    return float(torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(val.y)))


def test_early_stopping_restores_the_best_weights(clips, tmp_path):
    """Validation labels are the complement of what the bands say: the better the model fits
    training, the worse validation gets, so training stops early and the artifact must hold
    the weights of the best (an earlier) epoch."""
    train, _ = clips
    val = write_clips(tmp_path / "val", 12, seed=2, flip_labels=True)
    cfg = dataclasses.replace(FAST, max_epochs=12, patience=2, lr=3e-3)
    res = train_model("improved_cnn", train, val, tmp_path / "m", cfg, FEATURE, progress=False)
    assert res.epochs_run < 12  # stopped early
    assert res.best_epoch < res.epochs_run - 1
    assert res.epochs_run == res.best_epoch + 1 + cfg.patience
    assert val_loss_of(res.artifact_path, val) == pytest.approx(res.val_metrics["val_loss"], abs=1e-5)


def test_same_seed_gives_identical_metrics(clips, tmp_path):
    train, val = clips
    runs = [train_model("reference_cnn", train, val, tmp_path / f"run{i}", FAST, FEATURE,
                        progress=False) for i in range(2)]
    assert runs[0].val_metrics == runs[1].val_metrics
    assert read_csv(runs[0].log_csv) == read_csv(runs[1].log_csv)
    other = train_model("reference_cnn", train, val, tmp_path / "seed1",
                        dataclasses.replace(FAST, seed=1, max_epochs=1), FEATURE, progress=False)
    assert read_csv(other.log_csv)[0] != read_csv(runs[0].log_csv)[0]  # the seed matters


def test_rerun_replaces_outputs_and_leaves_no_work_files(clips, tmp_path):
    train, val = clips
    out = tmp_path / "m"
    one = dataclasses.replace(FAST, max_epochs=1)
    train_model("improved_cnn", train, val, out, one, FEATURE, progress=False)
    (out / ".training").mkdir()
    (out / ".training" / "best.ckpt").write_bytes(b"half-written")  # an interrupted run
    res = train_model("improved_cnn", train, val, out, FAST, FEATURE, progress=False)
    assert res.epochs_run == 2 and len(read_csv(res.log_csv)) == 2
    assert sorted(p.name for p in out.iterdir()) == ["best.ckpt", "model.pt", "training_log.csv"]


def test_bad_inputs_are_clear_errors(clips, tmp_path):
    train, val = clips
    with pytest.raises(DatasetError, match="validation set is empty"):
        train_model("improved_cnn", train, ClipSet([], np.zeros((0, 3)), CLASSES), tmp_path / "a",
                    FAST, FEATURE)
    with pytest.raises(ModelError, match="unknown model"):
        train_model("vgg", train, val, tmp_path / "b", FAST, FEATURE)
    with pytest.raises(ModelError, match="unknown option"):
        train_model("improved_cnn", train, val, tmp_path / "e", FAST, FEATURE,
                    model_kwargs={"widht": 3})
    with pytest.raises(ConfigError, match="train_baseline"):
        train_model("descriptor_logreg", train, val, tmp_path / "c", FAST, FEATURE)
    other = FeatureConfig(n_mels=32, segment_seconds=2.0)  # clips are 1 s long
    with pytest.raises(DatasetError, match=r"clip1_\d+\.npy: log-mel shape"):
        train_model("improved_cnn", train, val, tmp_path / "d", FAST, other, progress=False)
    assert not (tmp_path / "d" / "model.pt").exists()


@pytest.mark.parametrize("bad", [{"devices": 0}, {"strategy": "nonsense"}])
def test_bad_lightning_settings_are_config_errors(clips, tmp_path, bad):
    train, val = clips
    with pytest.raises(ConfigError, match="train: "):
        train_model("improved_cnn", train, val, tmp_path, dataclasses.replace(FAST, **bad),
                    FEATURE, progress=False)


def test_tensorboard_needs_its_package(clips, tmp_path):
    from lightning.pytorch.loggers.tensorboard import _TENSORBOARD_AVAILABLE

    if _TENSORBOARD_AVAILABLE:
        pytest.skip("tensorboard is installed")
    train, val = clips
    with pytest.raises(ConfigError, match="tensorboard"):
        train_model("improved_cnn", train, val, tmp_path, dataclasses.replace(FAST, tensorboard=True),
                    FEATURE, progress=False)


@pytest.mark.timeout(180)
def test_ddp_two_cpu_processes(clips, tmp_path):
    """One short epoch of Lightning DDP over 2 CPU processes (gloo)."""
    train, val = clips
    cfg = dataclasses.replace(FAST, max_epochs=1, devices=2, strategy="ddp_spawn")
    res = train_model("improved_cnn", train, val, tmp_path / "ddp", cfg, FEATURE, progress=False)
    assert res.epochs_run == 1 and res.best_epoch == 0
    assert np.isfinite(res.val_metrics["val_loss"])
    art = ModelArtifact.load(res.artifact_path)
    assert art.training["config"]["devices"] == 2
    assert val_loss_of(res.artifact_path, val) == pytest.approx(res.val_metrics["val_loss"], abs=1e-5)


# --- descriptor baseline ---------------------------------------------------------------------

def test_baseline_module_equals_sklearn(clips, tmp_path):
    train, val = clips
    # a class with no positive in training becomes sklearn's constant predictor
    y = train.y.copy()
    y[:, 2] = 0
    train = ClipSet(train.paths, y, CLASSES)
    res = train_baseline(train, val, tmp_path / "bl", FEATURE, SegmentConfig(), {"name": "toy"},
                         progress=False)
    assert sorted(p.name for p in (tmp_path / "bl").iterdir()) == [
        "baseline.joblib", "model.pt", "training_log.csv"]
    art = ModelArtifact.load(res.artifact_path)
    module = art.build_model()
    pipe = joblib.load(res.best_checkpoint)
    feats = descriptor_matrix(module, val, SHAPE)
    expected = pipe.predict_proba(feats)
    x = torch.stack([torch.from_numpy(val.load(i))[None] for i in range(len(val))])
    with torch.no_grad():
        got = torch.sigmoid(module(x)).double().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert macro_auc(val.y[:, :2], got[:, :2]) > 0.9  # the bands are easy for MFCC statistics
    rows = read_csv(res.log_csv)
    assert len(rows) == res.epochs_run and float(rows[res.best_epoch]["C"]) == art.training["config"]["C"]
