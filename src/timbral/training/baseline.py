"""`train_baseline`: the descriptor baseline, fitted with scikit-learn and stored as the same
kind of artifact as the CNNs (a `DescriptorLogReg` module carrying the fitted weights).

Features: MFCC and mel-band centroid/contrast/flatness statistics, computed from the log-mel
by the module itself. Model: StandardScaler -> one-vs-rest LogisticRegression; the inverse
regularisation C is chosen on the validation split (highest macro AUC, then lowest loss).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from timbral.config import FeatureConfig, SegmentConfig
from timbral.data.clips import ClipSet
from timbral.models.descriptors import DescriptorLogReg
from timbral.training.data import ClipDataset, check_sets
from timbral.training.log import COLUMNS, EpochCSV
from timbral.training.metrics import macro_auc
from timbral.training.result import LOG_NAME, TrainResult, resolved_kwargs, write_artifact

MODEL_NAME = "descriptor_logreg"
C_GRID = (0.01, 0.1, 1.0, 10.0)
PIPELINE_NAME = "baseline.joblib"
CONSTANT_LOGIT = 30.0  # a class with a single label value in training: sigmoid(+-30) ~ 1 or 0


def train_baseline(
    train: ClipSet,
    val: ClipSet,
    out_dir: str | Path,
    feature_cfg: FeatureConfig = FeatureConfig(),
    segment_cfg: SegmentConfig = SegmentConfig(),
    taxonomy: dict | None = None,
    seed: int = 0,
    c_grid: tuple[float, ...] = C_GRID,
    progress: bool = True,
) -> TrainResult:
    """Fit the baseline on `train`, pick C on `val`, write out_dir/model.pt,
    out_dir/training_log.csv (one row per C tried; `epoch` is the trial index) and the fitted
    scikit-learn pipeline out_dir/baseline.joblib (as `best_checkpoint`)."""
    check_sets(train, val)
    out_dir = Path(out_dir)
    kwargs = resolved_kwargs(MODEL_NAME, {"n_mels": feature_cfg.n_mels, "sr": feature_cfg.sr})
    module = DescriptorLogReg(len(train.classes), **kwargs).eval()
    shape = (feature_cfg.n_mels, feature_cfg.n_frames)
    x_train = descriptor_matrix(module, train, shape, progress, "train descriptors")
    x_val = descriptor_matrix(module, val, shape, progress, "val descriptors")

    log = EpochCSV(out_dir / f".{LOG_NAME}.partial", ("epoch", "C", *COLUMNS[1:]))
    fits = []
    for trial, c in enumerate(tqdm(c_grid, desc="logistic regression", disable=not progress)):
        pipe = fit_pipeline(x_train, train.y, c, seed)
        row = {"epoch": trial, "C": c,
               **_scores("train", pipe, x_train, train.y), **_scores("val", pipe, x_val, val.y)}
        log.append(row)
        fits.append((row, pipe))
    best_trial = min(range(len(fits)), key=lambda i: _rank(fits[i][0]))
    best, pipe = fits[best_trial]

    copy_pipeline(pipe, module)
    pipe_path = out_dir / PIPELINE_NAME
    tmp = pipe_path.with_name(f".{pipe_path.name}.tmp")
    joblib.dump(pipe, tmp)
    tmp.replace(pipe_path)
    log_csv = log.path.replace(out_dir / LOG_NAME)
    val_metrics = {k: best[k] for k in ("val_loss", "val_binary_accuracy", "val_auc")}
    training = {
        "config": {"estimator": "StandardScaler + OneVsRest(LogisticRegression)", "C": best["C"],
                   "c_grid": list(c_grid), "seed": seed},
        "epochs_run": len(fits), "best_epoch": best_trial, "n_train": len(train),
        "n_val": len(val),
        "train_class_counts": dict(zip(train.classes, train.y.sum(0).astype(int).tolist())),
    }
    artifact = write_artifact(out_dir, MODEL_NAME, train.classes, module.state_dict(), kwargs,
                              taxonomy, feature_cfg, segment_cfg, training,
                              {**val_metrics, "epoch": best_trial})
    return TrainResult(artifact, log_csv, pipe_path, val_metrics, len(fits), best_trial)


@torch.no_grad()
def descriptor_matrix(module: DescriptorLogReg, clips: ClipSet, shape: tuple[int, int],
                      progress: bool = False, desc: str = "descriptors") -> np.ndarray:
    """(n_clips, n_features) descriptor statistics, computed by the module's own code."""
    loader = DataLoader(ClipDataset(clips, shape), batch_size=64, shuffle=False)
    parts = [module.features(x).double().numpy()
             for x, _ in tqdm(loader, desc=desc, disable=not progress, leave=False)]
    return np.concatenate(parts)


def fit_pipeline(x: np.ndarray, y: np.ndarray, c: float, seed: int = 0) -> Pipeline:
    """StandardScaler -> one-vs-rest logistic regression (a class with one label value in
    training becomes a constant predictor)."""
    pipe = make_pipeline(
        StandardScaler(),
        OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, random_state=seed)),
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
        pipe.fit(x, np.asarray(y, dtype=int))
    return pipe


def copy_pipeline(pipe: Pipeline, module: DescriptorLogReg) -> None:
    """Copy the scaler's statistics and each class's logistic-regression weights into `module`."""
    scaler, ovr = pipe[0], pipe[-1]
    n_features = module.feature_mean.numel()
    weight = np.zeros((len(ovr.estimators_), n_features))
    bias = np.zeros(len(ovr.estimators_))
    for i, est in enumerate(ovr.estimators_):
        if hasattr(est, "coef_"):
            weight[i], bias[i] = est.coef_[0], est.intercept_[0]
        else:  # sklearn's constant predictor: probability 0 or 1
            bias[i] = CONSTANT_LOGIT if float(np.ravel(est.y_)[0]) > 0.5 else -CONSTANT_LOGIT
    with torch.no_grad():
        module.feature_mean.copy_(torch.as_tensor(scaler.mean_))
        module.feature_scale.copy_(torch.as_tensor(scaler.scale_))
        module.linear.weight.copy_(torch.as_tensor(weight))
        module.linear.bias.copy_(torch.as_tensor(bias))


def _scores(prefix: str, pipe: Pipeline, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    p = np.clip(pipe.predict_proba(x), 1e-7, 1 - 1e-7)
    y = np.asarray(y, dtype=float)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return {f"{prefix}_loss": loss,
            f"{prefix}_binary_accuracy": float(np.mean((p > 0.5) == (y > 0.5))),
            f"{prefix}_auc": macro_auc(y, p)}


def _rank(row: dict) -> tuple[float, float]:
    auc = row["val_auc"]
    return (-auc if not math.isnan(auc) else math.inf, row["val_loss"])
