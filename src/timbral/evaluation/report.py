"""One self-contained `report.html`: every figure embedded as a PNG data URI, a few audio clips
embedded as short OGG data, so the page opens anywhere without the files beside it.

Fill a `ReportContext` with what the pipeline has (any part may be missing) and call
`write_report(out_dir, ctx)`. Figures drawn here from the context are also written as PNG
files under `out_dir/figures/`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import html
import io
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd

from timbral.config import FeatureConfig
from timbral.errors import DatasetError, TimbralError
from timbral.evaluation import reference
from timbral.evaluation.mixtable import split_names

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class ModelReport:
    """One evaluated model: its metrics.json dict, the folder `evaluate_model` wrote, and the
    per-epoch training log CSV (columns epoch, train_loss, val_loss, ...)."""

    name: str
    metrics: dict
    eval_dir: Path | None = None
    training_log: Path | None = None
    description: str = ""


@dataclass
class ReportContext:
    """Everything the report can show; leave out what a run does not have."""

    title: str = "timbral: evaluation report"
    subtitle: str = ""
    models: list[ModelReport] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)  # key facts: sizes, split, seed, ...
    label_counts: dict[str, int] | None = None  # class -> items, whole dataset
    split_counts: dict[str, dict[str, int]] | None = None  # split -> class -> items
    train_counts_before: dict[str, int] | None = None  # training split, before balancing
    train_counts_after: dict[str, int] | None = None  # ... and after
    example_logmels: dict[str, np.ndarray] = field(default_factory=dict)  # caption -> (mels, frames)
    analysis_figures: Mapping[str, Path] | Sequence[Path] = field(default_factory=dict)
    generalisation: list[ModelReport] = field(default_factory=list)  # unseen-SoundFont corpus
    generalisation_note: str = ""
    notes: list[str] = field(default_factory=list)
    feature: FeatureConfig = field(default_factory=FeatureConfig)
    audio_root: Path | None = None  # relative audio/feature paths are resolved against it
    audio_clips: int = 12  # at most this many embedded audio players
    audio_seconds: float = 6.0
    mix_rows: int = 300  # rows of the text mix table (all rows are in mix_table.csv)


# ---------------------------------------------------------------- small HTML helpers

def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def fmt(x: object, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "&mdash;"
    if isinstance(x, (bool, np.bool_)):
        return esc(x)
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.{digits}f}"
    return esc(x)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img_tag(png: bytes, alt: str, cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} src="{data_uri(png, "image/png")}" alt="{esc(alt)}">'


def figure_html(png: bytes, caption: str) -> str:
    return f"<figure>{img_tag(png, caption)}<figcaption>{esc(caption)}</figcaption></figure>"


def table_html(
    header: Sequence[str], rows: Sequence[Sequence[str]], num: Sequence[bool] | None = None,
    row_class: Sequence[str] | None = None, wide: bool = False,
) -> str:
    """A table from already-escaped cell strings; `num` right-aligns columns; the first column
    (a name) does not wrap. Wrapped in a horizontally scrolling box."""
    num = list(num or [False] * len(header))
    th = "".join(f'<th class="num">{h}</th>' if n else f"<th>{h}</th>"
                 for h, n in zip(header, num, strict=True))
    body = []
    for k, row in enumerate(rows):
        cls = f' class="{row_class[k]}"' if row_class and row_class[k] else ""
        tds = "".join(
            f'<td class="num">{c}</td>' if n else (f'<td class="name">{c}</td>' if j == 0 else f"<td>{c}</td>")
            for j, (c, n) in enumerate(zip(row, num, strict=True)))
        body.append(f"<tr{cls}>{tds}</tr>")
    tcls = ' class="wide"' if wide else ""
    return (f'<div class="wrap"><table{tcls}><thead><tr>{th}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def kv_html(items: Mapping[str, object]) -> str:
    parts = []
    for k, v in items.items():
        if isinstance(v, Mapping):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        elif isinstance(v, (list, tuple)):
            v = ", ".join(map(str, v))
        parts.append(f"<dt>{esc(k)}</dt><dd>{fmt(v) if not isinstance(v, str) else esc(v)}</dd>")
    return f'<dl class="kv">{"".join(parts)}</dl>'


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


# ---------------------------------------------------------------- media

def _resolve(path: object, root: Path | None) -> Path | None:
    if not isinstance(path, str) or not path:
        return None
    p = Path(path)
    if not p.is_absolute() and root is not None:
        p = root / p
    return p if p.is_file() else None


def logmel_thumbnail(spec: np.ndarray, width: int = 200, height: int = 64) -> bytes:
    """A small PNG of a log-mel (low frequencies at the bottom), no axes."""
    from matplotlib import colormaps
    from matplotlib.image import imsave

    spec = np.asarray(spec, dtype=np.float32)
    rows = np.array_split(np.arange(spec.shape[0]), min(height, spec.shape[0]))
    cols = np.array_split(np.arange(spec.shape[1]), min(width, spec.shape[1]))
    small = np.array([[spec[np.ix_(r, c)].mean() for c in cols] for r in rows])
    buf = io.BytesIO()
    imsave(buf, small, cmap=colormaps["magma"], origin="lower", format="png")
    return buf.getvalue()


def audio_clip(path: Path, start: float, seconds: float, sr: int = 22050) -> tuple[bytes, str] | None:
    """`seconds` of mono audio from `start`, encoded as OGG Vorbis (FLAC if that fails)."""
    import soundfile as sf

    from timbral.data.audio import load_segment

    try:
        y = load_segment(path, start=start, duration=seconds, sr=sr)
    except TimbralError as exc:
        log.warning("audio for the report skipped: %s", exc)
        return None
    for fmt_, subtype, mime in (("OGG", "VORBIS", "audio/ogg"), ("FLAC", "PCM_16", "audio/flac")):
        buf = io.BytesIO()
        try:
            sf.write(buf, y * 0.9, sr, format=fmt_, subtype=subtype)
        except (sf.LibsndfileError, RuntimeError, TypeError):
            continue
        return buf.getvalue(), mime
    return None


# ---------------------------------------------------------------- sections

METRIC_ROWS = (
    ("loss (BCE)", "loss"), ("binary accuracy", "binary_accuracy"),
    ("subset accuracy (exact match)", "subset_accuracy"), ("AUC macro", "auc_macro"),
    ("AUC micro", "auc_micro"), ("mAP (macro AP)", "map_macro"),
    ("micro F1", "micro_f1"), ("macro F1", "macro_f1"), ("weighted F1", "weighted_f1"),
    ("samples F1", "samples_f1"), ("micro precision", "micro_precision"),
    ("micro recall", "micro_recall"), ("macro precision", "macro_precision"),
    ("macro recall", "macro_recall"),
)


def _ranking_html(models: list[ModelReport], heading: str) -> str:
    from timbral.evaluation.evaluate import compare_models

    try:
        frame = compare_models({m.name: m.metrics for m in models})
    except DatasetError as exc:
        return f'<p class="warn">Models not ranked: {esc(exc)}</p>'
    cols = [("rank", "rank"), ("model", "model"), ("parameters", "parameters"),
            ("thresholds", "thresholds"), ("macro F1", "macro_f1"), ("mAP", "map_macro"),
            ("micro F1", "micro_f1"), ("weighted F1", "weighted_f1"), ("samples F1", "samples_f1"),
            ("AUC macro", "auc_macro"), ("loss", "loss"), ("binary acc.", "binary_accuracy"),
            ("macro F1 at 0.5", "macro_f1_at_0.5"), ("test items", "n_test_items")]
    rows = [[fmt(r[k]) for _, k in cols] for _, r in frame.iterrows()]
    num = [k not in ("model", "thresholds") for _, k in cols]
    return (f"<p class=\"note\">{esc(heading)}</p>"
            + table_html([h for h, _ in cols], rows, num, ["best"] + [""] * (len(rows) - 1),
                         wide=True))


def _metrics_table(m: dict) -> str:
    tuned = m.get("thresholds", "0.5") != "0.5"
    half = m.get("at_0.5") or m
    header = ["metric", "at 0.5"] + ([f"at {esc(m['thresholds'])}"] if tuned else [])
    rows = []
    for label, key in METRIC_ROWS:
        row = [esc(label), fmt(half.get(key))]
        if tuned:
            row.append(fmt(m.get(key)))
        rows.append(row)
    return table_html(header, rows, [False] + [True] * (len(header) - 1))


def _class_report_html(m: dict) -> str:
    pc = m.get("per_class") or {}
    header = ["class", "precision", "recall", "F1", "support", "AUC", "AP", "threshold"]
    rows, cls = [], []
    for name, r in pc.items():
        rows.append([esc(name), fmt(r["precision"], 2), fmt(r["recall"], 2), fmt(r["f1"], 2),
                     fmt(r["support"]), fmt(r["auc"], 2), fmt(r["ap"], 2), fmt(r["threshold"], 2)])
        cls.append("")
    total = sum(int(r["support"]) for r in pc.values())
    for avg in ("micro", "macro", "weighted", "samples"):
        rows.append([f"{avg} avg", fmt(m.get(f"{avg}_precision"), 2), fmt(m.get(f"{avg}_recall"), 2),
                     fmt(m.get(f"{avg}_f1"), 2), fmt(total), "", "", ""])
        cls.append("avg")
    return table_html(header, rows, [False] + [True] * 7, cls)


def _polyphony_html(m: dict) -> str:
    poly = m.get("polyphony") or {}
    buckets = poly.get("buckets") or {}
    if not buckets:
        return ""
    header = ["active classes", "items", "micro F1", "macro F1", "samples F1", "micro precision",
              "micro recall", "mean labels"]
    rows = [[esc(b), fmt(r["n_items"]), fmt(r["micro_f1"]), fmt(r["macro_f1"]), fmt(r["samples_f1"]),
             fmt(r["micro_precision"]), fmt(r["micro_recall"]), fmt(r["mean_labels"], 2)]
            for b, r in buckets.items()]
    note = (f"Over {esc(poly.get('items', 'test items'))} ({poly.get('n_items', 0)} items); "
            f"{poly.get('n_from_label_count', 0)} had no active-class count and used their label "
            f"count; {poly.get('n_skipped', 0)} with no active class were left out. Macro F1 runs "
            "over the classes present in each bucket.")
    return table_html(header, rows, [False] + [True] * 7) + f'<p class="note">{note}</p>'


def _png_file(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if data.startswith(PNG_SIGNATURE) else None


def _model_section(m: ModelReport, idx: int, fig_dir: Path) -> str:
    from timbral.evaluation import plots

    mt = m.metrics
    parts = [f'<section id="model-{idx}"><h2>Model: {esc(m.name)}</h2>']
    if m.description:
        parts.append(f"<p>{esc(m.description)}</p>")
    model = mt.get("model") or {}
    facts = {
        "architecture": model.get("name"), "parameters": model.get("parameters"),
        "test items": mt.get("n_test_items"), "test mixes": mt.get("n_mixes"),
        "headline thresholds": mt.get("thresholds"),
        "split": mt.get("split"),
    }
    if mt.get("kinds"):
        facts["test items by kind"] = mt["kinds"]
    val = mt.get("val")
    if val:
        facts["threshold tuning (validation)"] = (
            f"{val['n_items']} items; macro F1 {val['macro_f1_at_0.5']:.3f} at 0.5 -> "
            f"{val['macro_f1_tuned']:.3f} tuned; micro F1 {val['micro_f1_at_0.5']:.3f} -> "
            f"{val['micro_f1_tuned']:.3f}")
    parts.append(kv_html({k: v for k, v in facts.items() if v not in (None, {}, "")}))
    parts.append('<div class="row"><div><h3>Summary (test)</h3>')
    parts.append(_metrics_table(mt))
    parts.append('</div><div><h3>Classification report (test, headline thresholds)</h3>')
    parts.append(_class_report_html(mt))
    parts.append("<p class=\"note\">scikit-learn's precision, recall and F1 with zero_division=0; "
                 "AUC/AP are blank for a class without positives (or negatives) in the test "
                 "set, and such classes are left out of the macro AUC and mAP.</p></div></div>")

    figs: list[tuple[bytes, str]] = []
    if m.training_log is not None:
        try:
            fig = plots.plot_training_curves(m.training_log, title=f"Training curves: {m.name}")
            path = plots.save_figure(fig, fig_dir / f"{slug(m.name)}_training_curves.png")
            figs.append((path.read_bytes(), "Loss, binary accuracy and AUC per epoch; the "
                         "dashed line marks the epoch with the lowest validation loss."))
        except DatasetError as exc:
            parts.append(f'<p class="warn">Training curves not drawn: {esc(exc)}</p>')
    eval_dir = Path(m.eval_dir) if m.eval_dir else None
    names = (mt.get("files") or {}).get("figures") or {}
    captions = {
        "training_curves": "Loss, binary accuracy and AUC per epoch, train vs validation.",
        "confusion": "Single-label test items only (as in the reference): rows are the true "
                     "class with its item count, columns the predicted class with the highest "
                     "probability above threshold, or (none). Top: counts; bottom: share of "
                     "each true class.",
        "pr_curves": "Per-class precision-recall on test; the red dot is the operating point at "
                     "the class's threshold, the dotted line the chance level (prevalence).",
        "polyphony": "F1 on test mixes grouped by how many classes are active in the segment.",
    }
    for key in ("training_curves", "confusion", "pr_curves", "polyphony"):
        if key == "training_curves" and m.training_log is not None:
            continue
        if eval_dir is None or key not in names:
            continue
        png = _png_file(eval_dir / names[key])
        if png is None:
            parts.append(f'<p class="warn">Figure missing: {esc(eval_dir / names[key])}</p>')
            continue
        figs.append((png, captions[key]))
    poly = _polyphony_html(mt)
    if poly:
        parts.append(f"<h3>By polyphony (test mixes)</h3>{poly}")
    for png, caption in figs:
        parts.append(figure_html(png, caption))
    if eval_dir is not None:
        parts.append(_links(eval_dir, fig_dir.parent))
    parts.append("</section>")
    return "".join(parts)


def _links(eval_dir: Path, report_dir: Path) -> str:
    files = ["metrics.json", "classification_report.csv", "mix_table.csv", "confusion.csv",
             "predictions.csv"]
    links = []
    for f in files:
        p = eval_dir / f
        if p.is_file():
            rel = os.path.relpath(p.resolve(), report_dir.resolve())
            links.append(f'<a href="{esc(Path(rel).as_posix())}">{esc(f)}</a>')
    return f'<p class="note">Files: {" &middot; ".join(links)}</p>' if links else ""


def _chips(cell: object, cls: str) -> str:
    return "".join(f'<span class="chip {cls}">{esc(n)}</span>' for n in split_names(cell))


def _classes_cell(r: pd.Series) -> str:
    return _chips(r["TP"], "tp") + _chips(r["FN"], "fn") + _chips(r["FP"], "fp")


def _spread(n: int, k: int) -> np.ndarray:
    """Up to k indices spread evenly over range(n)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int)) if n else np.array([], int)


def _mix_section(m: ModelReport, ctx: ReportContext) -> str:
    """Listening table (a few mixes: log-mel thumbnail + audio) and the mix table as text."""
    if m.eval_dir is None or not (Path(m.eval_dir) / "mix_table.csv").is_file():
        return ""
    try:
        table = pd.read_csv(Path(m.eval_dir) / "mix_table.csv", keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return f'<p class="warn">Mix table unreadable: {esc(exc)}</p>'
    total = len(table)
    parts = [f'<section id="mixes"><h2>Test mixes: {esc(m.name)}</h2>']
    if total == 0:
        return parts[0] + '<p class="note">No test mixes.</p></section>'
    if "n_active" in table.columns:
        table["_n"] = pd.to_numeric(table["n_active"], errors="coerce").fillna(-1).astype(int)
    else:
        table["_n"] = -1
    table = table.sort_values(["_n", "item_id"], kind="stable").reset_index(drop=True)
    legend = ('<p class="legend"><span class="chip tp">hit (TP)</span><span class="chip fn">'
              'missed (FN)</span><span class="chip fp">wrong (FP)</span></p>')
    listen = table.iloc[_spread(total, ctx.audio_clips)]
    parts.append(f'<p class="note">{len(listen)} of the {total} test mixes, spread over '
                 f"polyphony: the log-mel the model saw and the first {ctx.audio_seconds:g} s of "
                 f"its segment. Classes are the item's labels and the model's predictions.</p>"
                 + legend)
    rows = []
    for _, r in listen.iterrows():
        feat = _resolve(r.get("feature_path"), ctx.audio_root)
        thumb = "&mdash;"
        if feat is not None:
            try:
                thumb = img_tag(logmel_thumbnail(np.load(feat)), f"log-mel of {r['item_id']}", "thumb")
            except (OSError, ValueError) as exc:
                log.warning("thumbnail of %s skipped: %s", feat, exc)
        player = "no audio"
        audio = _resolve(r.get("audio_path"), ctx.audio_root)
        if audio is not None:
            start = pd.to_numeric(pd.Series([r.get("start", 0)]), errors="coerce").fillna(0).iloc[0]
            clip = audio_clip(audio, float(start), ctx.audio_seconds, ctx.feature.sr)
            if clip is not None:
                player = (f'<audio controls preload="metadata"><source src="{data_uri(*clip)}" '
                          f'type="{clip[1]}"></audio>')
        rows.append([esc(r["item_id"]), fmt(int(r["_n"])) if r["_n"] >= 0 else "?", thumb,
                     player, _classes_cell(r)])
    parts.append(table_html(["mix segment", "active", "log-mel", "listen",
                             "classes (hit / missed / wrong)"], rows,
                            [False, True, False, False, False]))
    shown = table.iloc[: ctx.mix_rows]
    text_rows = [[esc(r["item_id"]), fmt(int(r["_n"])) if r["_n"] >= 0 else "?",
                  _classes_cell(r), fmt(int(r["n_tp"])), fmt(int(r["n_fn"])), fmt(int(r["n_fp"]))]
                 for _, r in shown.iterrows()]
    more = f" (first {len(shown)} shown; all in mix_table.csv)" if len(shown) < total else ""
    parts.append(f"<details><summary>All {total} test mixes{more}</summary>"
                 '<div class="scroll">'
                 + table_html(["mix segment", "active", "classes (hit / missed / wrong)", "TP",
                               "FN", "FP"], text_rows, [False, True, False, True, True, True])
                 + "</div></details>")
    parts.append('<p class="note">"active": classes playing in the segment (from the activation '
                 "annotations); an item's labels can include instruments silent in its segment.</p>")
    parts.append("</section>")
    return "".join(parts)


def best_model(models: list[ModelReport]) -> ModelReport | None:
    """The first-ranked model (macro F1, then mAP); the first one if they cannot be ranked."""
    from timbral.evaluation.evaluate import compare_models

    if not models:
        return None
    try:
        top = compare_models({m.name: m.metrics for m in models}).iloc[0]["model"]
    except DatasetError:
        return models[0]
    return next(m for m in models if m.name == top)


def _aside_html(ctx: ReportContext) -> str:
    best = best_model(ctx.models)
    s = reference.SUMMARY
    ours = (lambda k: fmt(best.metrics.get(k))) if best else (lambda k: "&mdash;")
    rows = [["test loss", fmt(s["loss"]), ours("loss")],
            ["binary accuracy", fmt(s["binary_accuracy"], 4), ours("binary_accuracy")],
            ["AUC (macro)", fmt(s["auc"], 4), ours("auc_macro")],
            ["micro F1", fmt(s["micro_f1"], 2), ours("micro_f1")],
            ["macro F1", fmt(s["macro_f1"], 2), ours("macro_f1")],
            ["weighted F1", fmt(s["weighted_f1"], 2), ours("weighted_f1")],
            ["samples F1", fmt(s["samples_f1"], 2), ours("samples_f1")]]
    who = esc(best.name) if best else "timbral"
    parts = ["<h2>Reference study (published)</h2>",
             f'<p class="caveat">{esc(reference.CAVEAT)}</p>',
             table_html(["metric", "reference", who], rows, [False, True, True])]
    pc = best.metrics.get("per_class", {}) if best else {}
    crow = []
    for name, (p, r, f, n) in reference.PER_CLASS.items():
        mine = pc.get(name, {}).get("f1")
        crow.append([esc(name), fmt(p, 2), fmt(r, 2), fmt(f, 2), fmt(n), fmt(mine, 2)])
    crow_cls = [""] * len(crow)
    for name, (p, r, f, n) in reference.AVERAGES.items():
        mine = best.metrics.get(f"{name.split()[0]}_f1") if best else None
        crow.append([esc(name), fmt(p, 2), fmt(r, 2), fmt(f, 2), fmt(n), fmt(mine, 2)])
        crow_cls.append("avg")
    parts.append("<h3>Table 5.1 of the study (test, threshold 0.5)</h3>")
    parts.append(table_html(["class", "P", "R", "F1", "n", "F1 ours"], crow,
                            [False, True, True, True, True, True], crow_cls))
    parts.append(f'<p class="note">"ours": {who}, this report\'s best-ranked model, at its '
                 "headline thresholds on timbral's test split.</p>")
    return "".join(parts)


def _dataset_section(ctx: ReportContext, fig_dir: Path) -> str:
    from timbral.evaluation import plots

    parts = []
    if ctx.dataset:
        parts.append(kv_html(ctx.dataset))
    drawn: list[tuple[str, Any, str]] = []
    if ctx.label_counts:
        drawn.append(("label_distribution", lambda: plots.plot_label_distribution(ctx.label_counts),
                      "How many items carry each class (an item may carry several)."))
    if ctx.example_logmels:
        drawn.append(("example_logmels", lambda: plots.plot_logmels(
            ctx.example_logmels, ctx.feature.sr, ctx.feature.hop_length),
            "Log-mel spectrograms (dB relative to each segment's maximum) as the model sees them."))
    if ctx.split_counts:
        drawn.append(("split_counts", lambda: plots.plot_split_counts(ctx.split_counts),
                      "Items per class in each split before balancing; the legend gives each "
                      "split's total of class labels (an item may carry several)."))
    if ctx.train_counts_before and ctx.train_counts_after:
        drawn.append(("balancing", lambda: plots.plot_balancing(
            ctx.train_counts_before, ctx.train_counts_after),
            "Training items per class before and after balancing (validation and test are "
            "never balanced)."))
    for name, draw, caption in drawn:
        try:
            path = plots.save_figure(draw(), fig_dir / f"{name}.png")
        except DatasetError as exc:
            parts.append(f'<p class="warn">{esc(name)} not drawn: {esc(exc)}</p>')
            continue
        parts.append(figure_html(path.read_bytes(), caption))
    if not parts:
        return ""
    return '<section id="data"><h2>Data</h2>' + "".join(parts) + "</section>"


def _generalisation_section(ctx: ReportContext) -> str:
    if not ctx.generalisation:
        return ""
    home = {m.name: m.metrics for m in ctx.models}
    header = ["model", "items", "macro F1", "macro F1 (main test)", "micro F1",
              "micro F1 (main test)", "mAP", "mAP (main test)", "AUC macro"]
    rows = []
    for g in ctx.generalisation:
        h = home.get(g.name, {})
        gm = g.metrics
        rows.append([esc(g.name), fmt(gm.get("n_test_items")), fmt(gm.get("macro_f1")),
                     fmt(h.get("macro_f1")), fmt(gm.get("micro_f1")), fmt(h.get("micro_f1")),
                     fmt(gm.get("map_macro")), fmt(h.get("map_macro")), fmt(gm.get("auc_macro"))])
    parts = ['<section id="generalisation"><h2>Generalisation</h2>']
    if ctx.generalisation_note:
        parts.append(f"<p>{esc(ctx.generalisation_note)}</p>")
    parts.append(table_html(header, rows, [False] + [True] * 8))
    for g in ctx.generalisation:
        poly = _polyphony_html(g.metrics)
        if poly:
            parts.append(f"<h3>{esc(g.name)}: by polyphony</h3>{poly}")
    parts.append("</section>")
    return "".join(parts)


def _analysis_section(ctx: ReportContext) -> str:
    figs = ctx.analysis_figures
    items = list(figs.items()) if isinstance(figs, Mapping) else [
        (Path(p).stem.replace("_", " "), p) for p in figs]
    if not items:
        return ""
    parts = ['<section id="analysis"><h2>Metadata analysis</h2>']
    for caption, path in items:
        png = _png_file(Path(path))
        if png is None:
            parts.append(f'<p class="warn">Figure missing or not a PNG: {esc(path)}</p>')
        else:
            parts.append(figure_html(png, caption))
    parts.append("</section>")
    return "".join(parts)


def render_report(ctx: ReportContext, out_dir: Path) -> str:
    """The report's HTML text (figures drawn from the context are saved in out_dir/figures)."""
    from timbral import __version__

    fig_dir = Path(out_dir) / "figures"
    nav, main = [], []
    if ctx.models:
        main.append('<section id="ranking"><h2>Models ranked</h2>'
                    + _ranking_html(ctx.models, "Ranked by macro F1, then mAP, on the same test "
                                    "items; figures at each model's headline thresholds.")
                    + "</section>")
        nav.append(("ranking", "Ranking"))
    data = _dataset_section(ctx, fig_dir)
    if data:
        main.append(data)
        nav.append(("data", "Data"))
    for i, m in enumerate(ctx.models):
        main.append(_model_section(m, i, fig_dir))
        nav.append((f"model-{i}", m.name))
    best = best_model(ctx.models)
    if best is not None:
        mix = _mix_section(best, ctx)
        if mix:
            main.append(mix)
            nav.append(("mixes", "Mixes"))
    for section, anchor, label in ((_generalisation_section(ctx), "generalisation", "Generalisation"),
                                   (_analysis_section(ctx), "analysis", "Analysis")):
        if section:
            main.append(section)
            nav.append((anchor, label))
    if ctx.notes:
        main.append('<section id="notes"><h2>Notes</h2>'
                    + "".join(f"<p>{esc(n)}</p>" for n in ctx.notes) + "</section>")
        nav.append(("notes", "Notes"))
    if not main:
        main.append('<p class="note">Nothing to report: no models and no data summary.</p>')
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    template = Template(resources.files("timbral.evaluation").joinpath("report.html")
                        .read_text(encoding="utf-8"))
    return template.substitute(
        title=esc(ctx.title),
        subtitle=f"<p>{esc(ctx.subtitle)}</p>" if ctx.subtitle else "",
        nav="".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav),
        main="\n".join(main),
        aside=_aside_html(ctx),
        footer=f"Generated by timbral {esc(__version__)} on {stamp}.",
    )


def write_report(out_dir: str | Path, ctx: ReportContext, title: str | None = None,
                 filename: str = "report.html") -> Path:
    """Write `out_dir/report.html` (atomically) and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if title is not None:
        ctx.title = title
    text = render_report(ctx, out)
    path = out / filename
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- checking a written report

class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))


def report_problems(path: str | Path) -> list[str]:
    """What is wrong with a written report: images that are not embedded PNGs, undecodable
    data URIs, relative links to files that do not exist. Empty when all is well."""
    path = Path(path)
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    problems = []
    for tag, attr, value in parser.refs:
        if value.startswith("data:"):
            head, _, payload = value.partition(",")
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"<{tag} {attr}>: undecodable data URI")
                continue
            if tag == "img" and (head != "data:image/png;base64" or not data.startswith(PNG_SIGNATURE)):
                problems.append(f"<img>: not an embedded PNG ({head})")
            elif not data:
                problems.append(f"<{tag} {attr}>: empty data URI")
        elif tag == "img":
            problems.append(f"<img>: not embedded ({value[:60]})")
        elif value.startswith(("#", "http://", "https://", "mailto:")):
            continue
        elif not (path.parent / value).is_file():
            problems.append(f"<{tag} {attr}>: missing file {value}")
    return problems
