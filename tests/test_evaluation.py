"""Metrics, threshold tuning, confusion, polyphony, evaluate_model and compare_models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

from timbral.artifact import ModelArtifact
from timbral.data.clips import ClipSet
from timbral.errors import DatasetError, ModelError
from timbral.evaluation import (
    binarize,
    classification_report_frame,
    compare_models,
    compute_metrics,
    evaluate_model,
    polyphony_metrics,
    predict_clips,
    single_label_confusion,
    tune_thresholds,
)
from timbral.models import build_model

CLASSES = ["a", "b", "c"]
# 4 items x 3 classes; at threshold 0.5 the predictions are
# [[1,0,1],[0,1,0],[1,0,0],[0,1,0]]
Y_TRUE = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
Y_PROB = np.array([[0.9, 0.2, 0.6], [0.4, 0.7, 0.1], [0.6, 0.3, 0.2], [0.1, 0.8, 0.4]])


def test_metrics_match_hand_computed_values():
    m = compute_metrics(Y_TRUE, Y_PROB, CLASSES, 0.5)
    # per class: a TP2 FP0 FN0; b TP1 FP1 FN1; c TP1 FP0 FN1
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 1, "recall": 1, "f1": 1, "support": 2, "auc": 1, "ap": 1, "threshold": 0.5})
    assert m["per_class"]["b"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["b"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    # micro: TP 4, FP 1, FN 2
    assert m["micro_precision"] == pytest.approx(4 / 5)
    assert m["micro_recall"] == pytest.approx(4 / 6)
    assert m["micro_f1"] == pytest.approx(8 / 11)
    assert m["macro_precision"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert m["macro_recall"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert m["macro_f1"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    assert m["weighted_f1"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)  # equal supports
    # per item F1: 1, 1, 2/3, 0
    assert m["samples_f1"] == pytest.approx((1 + 1 + 2 / 3 + 0) / 4)
    assert m["samples_precision"] == pytest.approx(3 / 4)
    assert m["samples_recall"] == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    assert m["binary_accuracy"] == pytest.approx(9 / 12)
    assert m["subset_accuracy"] == pytest.approx(2 / 4)
    # AUC: a 1, b 2/4 pairs ordered, c 1; AP: a 1, b (1/2 + 2/3)/2, c 1
    assert m["per_class"]["b"]["auc"] == pytest.approx(0.5)
    assert m["auc_macro"] == pytest.approx(2.5 / 3)
    assert m["per_class"]["b"]["ap"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["map_macro"] == pytest.approx((1 + 7 / 12 + 1) / 3)
    # micro AUC: 29.5 of the 36 positive/negative pairs are ordered (one tie)
    assert m["auc_micro"] == pytest.approx(29.5 / 36)
    p_true = [0.9, 0.8, 0.6, 0.6, 0.7, 0.9, 0.6, 0.3, 0.8, 0.9, 0.2, 0.4]
    assert m["loss"] == pytest.approx(-np.mean(np.log(p_true)))
    assert m["n_items"] == 4


def test_metrics_equal_scikit_learn():
    m = compute_metrics(Y_TRUE, Y_PROB, CLASSES, 0.5)
    pred = binarize(Y_PROB, 0.5)
    for avg in ("micro", "macro", "weighted", "samples"):
        p, r, f, _ = precision_recall_fscore_support(Y_TRUE, pred, average=avg, zero_division=0)
        assert (m[f"{avg}_precision"], m[f"{avg}_recall"], m[f"{avg}_f1"]) == pytest.approx((p, r, f))
    assert m["auc_macro"] == pytest.approx(roc_auc_score(Y_TRUE, Y_PROB, average="macro"))
    assert m["auc_micro"] == pytest.approx(roc_auc_score(Y_TRUE, Y_PROB, average="micro"))
    rep = classification_report_frame(Y_TRUE, pred, CLASSES)
    assert list(rep.index) == CLASSES + ["micro avg", "macro avg", "weighted avg", "samples avg"]
    assert rep.loc["micro avg", "f1-score"] == pytest.approx(8 / 11)
    assert rep.loc["b", "support"] == 2


def test_class_without_positives_gets_null_auc_and_is_left_out():
    y = Y_TRUE.copy()
    y[:, 2] = 0
    m = compute_metrics(y, Y_PROB, CLASSES, 0.5)
    assert m["per_class"]["c"]["auc"] is None and m["per_class"]["c"]["ap"] is None
    assert m["auc_classes_used"] == ["a", "b"] and m["ap_classes_used"] == ["a", "b"]
    assert m["auc_macro"] == pytest.approx((1 + 0.5) / 2)
    assert m["per_class"]["c"]["f1"] == 0  # zero_division=0


def test_per_class_thresholds_are_applied():
    m = compute_metrics(Y_TRUE, Y_PROB, CLASSES, [0.5, 0.75, 0.35])
    # b: only 0.8 (a negative) passes -> P 0, R 0; c: 0.6 and 0.4 pass -> P 1, R 1
    assert m["per_class"]["b"]["f1"] == 0
    assert m["per_class"]["c"]["f1"] == 1
    assert m["per_class"]["c"]["threshold"] == 0.35


def test_bad_inputs_raise_dataset_errors():
    with pytest.raises(DatasetError, match="do not match"):
        compute_metrics(Y_TRUE[:, :2], Y_PROB, CLASSES)
    with pytest.raises(DatasetError, match="within"):
        compute_metrics(Y_TRUE, Y_PROB * 2, CLASSES)
    with pytest.raises(DatasetError, match="thresholds"):
        compute_metrics(Y_TRUE, Y_PROB, CLASSES, [0.5, 0.5])


def _macro_f1(y, p, t):
    return precision_recall_fscore_support(y, binarize(p, t), average="macro", zero_division=0)[2]


def test_tuned_thresholds_improve_validation_f1():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < 0.3).astype(int)
    p = 1 / (1 + np.exp(-(2.0 * (2 * y - 1) + rng.normal(0, 1.5, y.shape) - 1.5)))
    t = tune_thresholds(y, p)
    assert t.shape == (5,)
    assert _macro_f1(y, p, t) > _macro_f1(y, p, 0.5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, (12, 3), elements=st.integers(0, 1)),
       arrays(np.float64, (12, 3), elements=st.floats(0, 1)))
def test_tuning_never_lowers_any_class_f1(y, p):
    t = tune_thresholds(y, p)
    f_half = precision_recall_fscore_support(y, binarize(p, 0.5), average=None, zero_division=0)[2]
    f_tuned = precision_recall_fscore_support(y, binarize(p, t), average=None, zero_division=0)[2]
    assert np.all(f_tuned >= f_half - 1e-12)
    assert np.all(t[y.sum(axis=0) == 0] == 0.5)


def test_confusion_uses_only_single_label_items():
    y = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 0]])
    p = np.array([[0.9, 0.6, 0.1], [0.7, 0.8, 0.1], [0.1, 0.2, 0.3], [0.9, 0.9, 0.9],
                  [0.2, 0.1, 0.55]])
    c = single_label_confusion(y, p, CLASSES, 0.5)
    assert c["n_items"] == 4  # the two-label item is left out
    assert c["pred_labels"] == CLASSES + ["(none)"]
    counts = np.array(c["counts"])
    assert counts.sum() == 4
    assert counts[0, 0] == 1  # a -> a (highest of a, b above threshold)
    assert counts[1, 1] == 1  # b -> b (0.8 beats 0.7)
    assert counts[2, 3] == 1  # c -> nothing above threshold
    assert counts[1, 2] == 1  # b -> c


def test_polyphony_buckets():
    n_active = [1, 2, 3, 4, 5, 6, 7, -1, 0]
    y = np.zeros((9, 3), int)
    y[:, 0] = 1
    y[7] = [1, 1, 0]  # unknown count -> 2 labels -> bucket "2"
    pred = y.copy()
    pred[1] = [0, 0, 0]  # one miss in bucket "2"
    out = polyphony_metrics(y, pred, n_active)
    b = out["buckets"]
    assert list(b) == ["1", "2", "3", "4-5", "6+"]
    assert [b[k]["n_items"] for k in b] == [1, 2, 1, 2, 2]
    assert out["n_from_label_count"] == 1 and out["n_skipped"] == 1 and out["n_items"] == 8
    # bucket "2": true labels a, a, b; predicted a, b -> TP 2, FN 1, FP 0 -> micro F1 0.8
    assert b["2"]["micro_f1"] == pytest.approx(0.8)
    assert b["1"]["micro_f1"] == 1.0
    with pytest.raises(DatasetError):
        polyphony_metrics(y, pred, n_active[:-1])


def test_polyphony_empty_bucket_has_null_scores():
    out = polyphony_metrics(np.eye(3, dtype=int), np.eye(3, dtype=int), [1, 1, 1])
    assert out["buckets"]["6+"] == {"n_items": 0, "micro_f1": None, "macro_f1": None,
                                    "samples_f1": None, "micro_precision": None,
                                    "micro_recall": None, "mean_labels": None}


# ---------------------------------------------------------------- evaluate_model

N_MELS, FRAMES = 128, 40
KEYS = [
    "loss", "binary_accuracy", "auc_macro", "auc_micro", "map_macro", "micro_f1", "macro_f1",
    "weighted_f1", "samples_f1", "micro_precision", "micro_recall", "macro_precision",
    "macro_recall", "weighted_precision", "weighted_recall", "samples_precision",
    "samples_recall", "per_class", "n_test_items", "split", "thresholds", "model", "polyphony",
    "confusion", "at_0.5", "auc_classes_used",
]


def _clips(tmp_path, name, labels, seed=0):
    rng = np.random.default_rng(seed)
    d = tmp_path / name
    d.mkdir()
    paths = []
    for i in range(len(labels)):
        p = d / f"{name}{i}.npy"
        np.save(p, rng.uniform(-80, 0, (N_MELS, FRAMES)).astype(np.float16))
        paths.append(str(p))
    return ClipSet(paths, np.array(labels), CLASSES, [f"{name}_{i}" for i in range(len(labels))])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    torch.manual_seed(0)
    art = ModelArtifact("reference_cnn", CLASSES, build_model("reference_cnn", 3).state_dict())
    path = art.save(tmp / "model.pt")
    test_labels = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0],  # stems
                   [1, 1, 0], [0, 1, 1], [1, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, 1]]  # mixes
    test = _clips(tmp, "test", test_labels)
    val = _clips(tmp, "val", [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]], 1)
    info = pd.DataFrame({
        "item_id": test.item_ids, "track_id": [f"A_S{i}" for i in range(10)],
        "kind": ["stem"] * 4 + ["mix"] * 6, "n_active": [1, 1, 1, 1, 2, 1, 3, -1, 2, 3],
    })
    out = tmp / "out"
    m = evaluate_model(path, test, out, val=val, test_info=info.sample(frac=1, random_state=0),
                       split_info={"grouping": "artist", "seed": 0}, progress=False)
    return {"path": path, "test": test, "val": val, "info": info, "out": out, "metrics": m}


def test_evaluate_writes_every_key_and_file(run):
    m = run["metrics"]
    assert not [k for k in KEYS if k not in m]
    assert m == json.loads((run["out"] / "metrics.json").read_text())
    assert m["thresholds"] == "tuned-on-val" and m["at_0.5"]["thresholds"] == "0.5"
    assert m["n_test_items"] == 10 and m["n_mixes"] == 6
    assert m["model"]["name"] == "reference_cnn" and m["model"]["parameters"] > 0
    assert m["split"] == {"grouping": "artist", "seed": 0}
    assert m["confusion"]["n_items"] == 4
    assert m["polyphony"]["items"] == "test mixes" and m["polyphony"]["n_items"] == 6
    assert m["polyphony"]["n_from_label_count"] == 1
    assert m["val"]["macro_f1_tuned"] >= m["val"]["macro_f1_at_0.5"]
    for f in ("classification_report.csv", "mix_table.csv", "confusion.csv", "predictions.csv",
              "confusion.png", "pr_curves.png", "polyphony.png"):
        assert (run["out"] / f).is_file(), f
    rep = pd.read_csv(run["out"] / "classification_report.csv", index_col=0)
    assert rep.loc["macro avg", "f1-score"] == pytest.approx(m["macro_f1"], abs=1e-5)
    mix = pd.read_csv(run["out"] / "mix_table.csv", keep_default_na=False)
    assert list(mix["item_id"]) == run["test"].item_ids[4:]
    assert {"true", "predicted", "TP", "FN", "FP", "n_active", "feature_path"} <= set(mix.columns)
    assert mix.loc[0, "true"] == "a; b"


def test_evaluate_stores_tuned_thresholds_in_artifact(run):
    art = ModelArtifact.load(run["path"])
    assert art.thresholds_source == "tuned-on-val"
    assert art.thresholds == pytest.approx(list(run["metrics"]["threshold_values"].values()))


def test_predictions_are_sigmoid_of_logits(run):
    art = ModelArtifact.load(run["path"])
    prob = predict_clips(art, run["test"], batch_size=3, progress=False)
    x = torch.from_numpy(np.stack([run["test"].load(i) for i in range(10)]))[:, None]
    with torch.inference_mode():
        ref = torch.sigmoid(art.build_model()(x)).numpy()
    np.testing.assert_allclose(prob, ref, atol=1e-5)
    saved = pd.read_csv(run["out"] / "predictions.csv")
    np.testing.assert_allclose(saved[CLASSES].to_numpy(), prob, atol=1e-5)


def test_evaluate_without_val_uses_artifact_thresholds(run, tmp_path):
    m = evaluate_model(run["path"], run["test"], tmp_path, progress=False)
    assert m["thresholds"] == "tuned-on-val"  # stored in the artifact by the first run
    assert m["mix_rule"].startswith("more than one label")
    assert m["polyphony"]["items"] == "all test items"


def test_evaluate_rejects_bad_inputs(run, tmp_path):
    with pytest.raises(DatasetError, match="no row for test item"):
        evaluate_model(run["path"], run["test"], tmp_path, test_info=run["info"].iloc[1:],
                       progress=False)
    other = ClipSet(run["test"].paths, run["test"].y, ["x", "y", "z"])
    with pytest.raises(ModelError, match="classes"):
        evaluate_model(run["path"], other, tmp_path / "o", progress=False)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((64, 10), np.float16))
    with pytest.raises(DatasetError, match="feature shape"):
        predict_clips(ModelArtifact.load(run["path"]), ClipSet([str(bad)], [[1, 0, 0]], CLASSES),
                      progress=False)


def test_compare_models_ranks_by_macro_f1_then_map(run):
    m = run["metrics"]
    worse = {**m, "macro_f1": m["macro_f1"] - 0.1}
    tie = {**m, "map_macro": m["map_macro"] - 0.1}
    frame = compare_models({"worse": worse, "tie": tie, "best": m})
    assert list(frame["model"]) == ["best", "tie", "worse"]
    assert list(frame["rank"]) == [1, 2, 3]
    with pytest.raises(DatasetError, match="different test sets"):
        compare_models({"a": m, "b": {**m, "n_test_items": 3}})
    with pytest.raises(DatasetError, match="different test items"):
        compare_models({"a": m, "b": {**m, "test_items_sha": "other"}})
