"""Score a model artifact on a test ClipSet and write metrics, tables and figures to a folder.

Outputs of `evaluate_model(...)` in `out_dir`:
  metrics.json                 every figure (see `compute_metrics`), at the thresholds named by
                               its `thresholds` key, plus the same figures at 0.5 under `at_0.5`
  classification_report.csv    scikit-learn's report at those thresholds (and `_at_0.5.csv`)
  mix_table.csv                per test mix: true/predicted classes, TP, FN, FP
  confusion.csv                single-label confusion counts (rows true, columns predicted)
  predictions.csv              the test probabilities, one row per item
  confusion.png, pr_curves.png, polyphony.png (and training_curves.png when a log is given)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from timbral.artifact import ModelArtifact
from timbral.config import stable_hash
from timbral.data.clips import ClipSet
from timbral.errors import DatasetError, ModelError
from timbral.evaluation import metrics as M
from timbral.evaluation.mixtable import mix_table
from timbral.evaluation.thresholds import tune_thresholds

log = logging.getLogger(__name__)

TUNED = "tuned-on-val"
INFO_COLUMNS = ("track_id", "kind", "n_active", "audio_path", "start", "classes")
FIGURES = {
    "confusion": "confusion.png", "pr_curves": "pr_curves.png", "polyphony": "polyphony.png",
    "training_curves": "training_curves.png",
}


def _device(device: str | None):
    import torch

    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def predict_clips(
    artifact: ModelArtifact, clips: ClipSet, batch_size: int = 64, progress: bool = True,
    device: str | None = None,
) -> np.ndarray:
    """Probabilities (N, C): the sigmoid of the model's logits, in batches, features read lazily."""
    import torch
    from tqdm.auto import tqdm

    if list(clips.classes) != list(artifact.classes):
        raise ModelError(
            f"the model's classes ({', '.join(artifact.classes)}) differ from the clips' "
            f"classes ({', '.join(clips.classes)})"
        )
    dev = _device(device)
    model = artifact.build_model().to(dev)
    n_mels = artifact.feature.n_mels
    out = np.zeros((len(clips), len(artifact.classes)), dtype=np.float32)
    starts = range(0, len(clips), max(1, int(batch_size)))
    with torch.inference_mode():
        for s in tqdm(starts, desc="predict", unit="batch", disable=not progress, leave=False):
            idx = list(range(s, min(s + batch_size, len(clips))))
            feats = []
            for i in idx:
                x = clips.load(i)
                if x.ndim != 2 or x.shape[0] != n_mels:
                    raise DatasetError(
                        f"{clips.paths[i]}: feature shape {x.shape}, the model expects "
                        f"({n_mels}, frames)"
                    )
                feats.append(x)
            by_shape: dict[tuple[int, ...], list[int]] = {}
            for k, x in enumerate(feats):
                by_shape.setdefault(x.shape, []).append(k)
            for ks in by_shape.values():
                batch = torch.from_numpy(np.stack([feats[k] for k in ks]))[:, None].to(dev)
                prob = torch.sigmoid(model(batch).float()).cpu().numpy()
                out[[idx[k] for k in ks]] = prob
    return out


def weights_digest(artifact: ModelArtifact) -> str:
    h = hashlib.sha256(f"{artifact.model_name}{sorted(artifact.model_kwargs.items())}".encode())
    for name in sorted(artifact.state_dict):
        t = artifact.state_dict[name].detach().cpu().float()
        h.update(name.encode() + t.numpy().tobytes())
    return h.hexdigest()[:16]


def items_digest(clips: ClipSet) -> str:
    """Identifies a set of test items (ids and labels), to check models met the same test."""
    return stable_hash(list(clips.item_ids), clips.y.astype(int).tolist())


def _cached_predict(artifact: ModelArtifact, clips: ClipSet, cache_dir: Path, **kw) -> np.ndarray:
    stamps = []
    for p in clips.paths:
        try:
            st = Path(p).stat()
            stamps.append((p, st.st_size, st.st_mtime_ns))
        except OSError:
            raise DatasetError(f"{p}: feature file not found") from None
    key = stable_hash(weights_digest(artifact), stamps, artifact.classes)
    path = cache_dir / f"prob-{key}.npy"
    if path.is_file():
        prob = np.load(path)
        if prob.shape == (len(clips), len(artifact.classes)):
            return prob
    prob = predict_clips(artifact, clips, **kw)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, prob)
    tmp.replace(path)
    return prob


def _json_default(x):
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-able: {type(x).__name__}")


def _clean(obj):
    """NaN/inf -> None so the JSON is strict."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_json(path: Path, data: dict) -> Path:
    text = json.dumps(_clean(json.loads(json.dumps(data, default=_json_default))), indent=2,
                      allow_nan=False)
    return write_text(path, text + "\n")


def write_csv(path: Path, frame: pd.DataFrame, index: bool = False) -> Path:
    return write_text(path, frame.to_csv(index=index, float_format="%.6g"))


def align_info(test_info: pd.DataFrame, item_ids: list[str]) -> pd.DataFrame:
    """test_info's rows in the order of `item_ids` (one row per item, by `item_id`)."""
    if "item_id" not in test_info.columns:
        raise DatasetError("test info: no 'item_id' column")
    if test_info["item_id"].duplicated().any():
        dup = test_info.loc[test_info["item_id"].duplicated(), "item_id"].iloc[0]
        raise DatasetError(f"test info: item {dup!r} appears twice")
    missing = [i for i in item_ids if i not in set(test_info["item_id"])]
    if missing:
        raise DatasetError(f"test info: no row for test item {missing[0]!r} ({len(missing)} missing)")
    return test_info.set_index("item_id").loc[list(item_ids)].reset_index()


def _figure(path: Path, draw) -> str | None:
    from timbral.evaluation.plots import save_figure

    try:
        save_figure(draw(), path)
    except DatasetError as exc:
        log.warning("figure %s skipped: %s", path.name, exc)
        return None
    return path.name


def evaluate_model(
    artifact_path: str | Path,
    test: ClipSet,
    out_dir: str | Path,
    val: ClipSet | None = None,
    test_info: pd.DataFrame | None = None,
    split_info: Mapping | None = None,
    tune: bool = True,
    training_log: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
    device: str | None = None,
) -> dict:
    """Evaluate one artifact on `test`; write every output to `out_dir`; return metrics.json.

    With `val` and `tune`, per-class thresholds are tuned on `val` (max F1), stored in the
    artifact (re-saved atomically, thresholds_source "tuned-on-val"), and the top-level figures
    use them; `at_0.5` always holds the same figures at 0.5. Without `val`, the artifact's own
    thresholds are used. `test_info` (one row per test clip: item_id, track_id, kind, n_active,
    optional audio_path/start) selects the mixes for the mix table and the polyphony figures;
    without it, items with more than one label stand in for mixes (the reference's rule).
    """
    from timbral.evaluation import plots
    from timbral.models import count_parameters

    artifact_path = Path(artifact_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if len(test) == 0:
        raise DatasetError("evaluate: the test set is empty")
    artifact = ModelArtifact.load(artifact_path)
    classes = list(artifact.classes)
    kw = dict(batch_size=batch_size, progress=progress, device=device)
    cache = out / ".cache"
    prob = _cached_predict(artifact, test, cache, **kw)
    y = test.y.astype(np.int64)

    val_block = None
    if val is not None and tune and len(val):
        val_prob = _cached_predict(artifact, val, cache, **kw)
        used = tune_thresholds(val.y, val_prob)
        source = TUNED
        at05 = M.compute_metrics(val.y, val_prob, classes, 0.5)
        tuned = M.compute_metrics(val.y, val_prob, classes, used)
        val_block = {
            "n_items": len(val),
            "macro_f1_at_0.5": at05["macro_f1"], "macro_f1_tuned": tuned["macro_f1"],
            "micro_f1_at_0.5": at05["micro_f1"], "micro_f1_tuned": tuned["micro_f1"],
        }
        artifact.thresholds = [float(t) for t in used]
        artifact.thresholds_source = TUNED
        artifact.save(artifact_path)
    else:
        used = np.asarray(artifact.thresholds, dtype=float)
        source = artifact.thresholds_source

    info = align_info(test_info, test.item_ids) if test_info is not None else None
    if info is not None and "kind" in info.columns:
        is_mix = (info["kind"].astype(str) == "mix").to_numpy()
        mix_rule = "kind == mix"
    else:
        is_mix = y.sum(axis=1) > 1
        mix_rule = "more than one label (no kind information)"
    if info is not None and "n_active" in info.columns:
        n_active = pd.to_numeric(info["n_active"], errors="coerce").fillna(-1).to_numpy(int)
    else:
        n_active = np.full(len(test), -1)
    poly_mask = is_mix if info is not None and "kind" in info.columns else np.ones(len(test), bool)
    poly_items = "test mixes" if info is not None and "kind" in info.columns else "all test items"

    def block(thr) -> dict:
        res = M.compute_metrics(y, prob, classes, thr)
        pred = M.binarize(prob, thr)
        res["polyphony"] = {
            "items": poly_items,
            **M.polyphony_metrics(y[poly_mask], pred[poly_mask], n_active[poly_mask]),
        }
        res["confusion"] = M.single_label_confusion(y, prob, classes, thr)
        return res

    top = block(used)
    half = block(0.5) if source != "0.5" else {k: v for k, v in top.items()}
    y_pred = M.binarize(prob, used)

    model = artifact.build_model()
    result: dict = {
        **top,
        "thresholds": source,
        "threshold_values": dict(zip(classes, map(float, used), strict=True)),
        "at_0.5": {**half, "thresholds": "0.5"},
        "n_test_items": len(test),
        "test_items_sha": items_digest(test),
        "split": dict(split_info) if split_info else {"grouping": "unknown"},
        "model": {
            "name": artifact.model_name, "parameters": int(count_parameters(model)),
            "artifact": str(artifact_path), "version": artifact.version,
            "thresholds_source": artifact.thresholds_source,
        },
        "mix_rule": mix_rule,
        "n_mixes": int(is_mix.sum()),
    }
    if val_block:
        result["val"] = val_block
    if info is not None and "kind" in info.columns:
        result["kinds"] = {str(k): int(v) for k, v in info["kind"].value_counts().items()}

    rep = M.classification_report_frame(y, y_pred, classes)
    write_csv(out / "classification_report.csv", rep, index=True)
    if source != "0.5":
        rep05 = M.classification_report_frame(y, M.binarize(prob, 0.5), classes)
        write_csv(out / "classification_report_at_0.5.csv", rep05, index=True)

    extra = pd.DataFrame({"feature_path": list(test.paths)})
    if info is not None:
        for col in INFO_COLUMNS:
            if col in info.columns and col != "classes":
                extra[col] = info[col].to_numpy()
    ids = np.flatnonzero(is_mix)
    table = mix_table([test.item_ids[i] for i in ids], y[ids], y_pred[ids], classes,
                      extra.iloc[ids])
    write_csv(out / "mix_table.csv", table)

    conf = top["confusion"]
    conf_frame = pd.DataFrame(conf["counts"], index=conf["true_labels"], columns=conf["pred_labels"])
    conf_frame.index.name = "true \\ predicted"
    write_csv(out / "confusion.csv", conf_frame, index=True)
    pred_frame = pd.DataFrame(prob, columns=classes)
    pred_frame.insert(0, "item_id", list(test.item_ids))
    write_csv(out / "predictions.csv", pred_frame)

    thr_note = "tuned on validation" if source == TUNED else f"threshold {source}"
    figures = {
        "confusion": _figure(out / FIGURES["confusion"], lambda: plots.plot_confusion(
            conf, title=f"Confusion matrix: {conf['n_items']} single-label test items "
                        f"({thr_note})")),
        "pr_curves": _figure(out / FIGURES["pr_curves"],
                             lambda: plots.plot_pr_curves(y, prob, classes, used)),
        "polyphony": _figure(out / FIGURES["polyphony"], lambda: plots.plot_polyphony(
            top["polyphony"], title=f"F1 by polyphony ({poly_items}, {thr_note})")),
    }
    if training_log is not None:
        figures["training_curves"] = _figure(out / FIGURES["training_curves"],
                                             lambda: plots.plot_training_curves(training_log))
    result["files"] = {
        "classification_report": "classification_report.csv", "mix_table": "mix_table.csv",
        "confusion": "confusion.csv", "predictions": "predictions.csv",
        "figures": {k: v for k, v in figures.items() if v},
    }
    write_json(out / "metrics.json", result)
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


RANK_COLUMNS = [
    "rank", "model", "parameters", "thresholds", "macro_f1", "map_macro", "micro_f1",
    "weighted_f1", "samples_f1", "auc_macro", "loss", "binary_accuracy", "macro_f1_at_0.5",
    "n_test_items",
]


def compare_models(metrics_by_model: Mapping[str, Mapping]) -> pd.DataFrame:
    """Rank models scored on the same test items by macro F1, then mAP (best first)."""
    if not metrics_by_model:
        raise DatasetError("compare: no models to compare")
    sizes = {name: m.get("n_test_items") for name, m in metrics_by_model.items()}
    if len(set(sizes.values())) > 1:
        raise DatasetError(
            "compare: models were scored on different test sets ("
            + ", ".join(f"{k}: {v} items" for k, v in sizes.items()) + ")"
        )
    shas = {m.get("test_items_sha") for m in metrics_by_model.values()} - {None}
    if len(shas) > 1:
        raise DatasetError("compare: models were scored on different test items (same count, other items)")
    rows = []
    for name, m in metrics_by_model.items():
        rows.append({
            "model": name, "parameters": (m.get("model") or {}).get("parameters"),
            "thresholds": m.get("thresholds"),
            **{k: m.get(k) for k in RANK_COLUMNS[4:-2]},
            "macro_f1_at_0.5": (m.get("at_0.5") or {}).get("macro_f1", m.get("macro_f1")),
            "n_test_items": m.get("n_test_items"),
        })
    frame = pd.DataFrame(rows)
    key = frame[["macro_f1", "map_macro"]].apply(pd.to_numeric, errors="coerce").fillna(-1)
    order = np.lexsort((-key["map_macro"].to_numpy(), -key["macro_f1"].to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame[RANK_COLUMNS]
