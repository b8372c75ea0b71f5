"""report.html: self-contained (embedded PNGs, embedded audio), complete, and renderable."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from timbral.artifact import ModelArtifact
from timbral.data.clips import ClipSet
from timbral.evaluation import (
    ModelReport,
    ReportContext,
    evaluate_model,
    find_chromium,
    report_problems,
    take_screenshot,
    write_report,
)
from timbral.models import build_model

CLASSES = ["voice", "bass", "drums", "piano"]
PNG = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _parse(path):
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p.tags


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    labels = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
              [1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [1, 1, 1, 1]]
    paths, audio = [], []
    for i in range(len(labels)):
        p = tmp / f"f{i}.npy"
        np.save(p, rng.uniform(-80, 0, (128, 40)).astype(np.float16))
        paths.append(str(p))
        a = tmp / f"mix{i}.wav"
        sf.write(a, 0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * 22050) / 22050), 22050)
        audio.append(a.name)  # relative: resolved against ReportContext.audio_root
    test = ClipSet(paths, np.array(labels), CLASSES, [f"Artist_Song{i}" for i in range(8)])
    val = test.subset([0, 1, 2, 3, 4, 5])
    info = pd.DataFrame({"item_id": test.item_ids, "track_id": test.item_ids,
                         "kind": ["stem"] * 4 + ["mix"] * 4, "n_active": [1, 1, 1, 1, 2, 3, 3, 4],
                         "audio_path": audio, "start": 0.5})
    log = tmp / "log.csv"
    pd.DataFrame({"epoch": range(4), "train_loss": [0.7, 0.5, 0.4, 0.3],
                  "val_loss": [0.7, 0.55, 0.5, 0.52], "train_binary_accuracy": [0.6, 0.7, 0.8, 0.85],
                  "val_binary_accuracy": [0.6, 0.68, 0.7, 0.7]}).to_csv(log, index=False)
    models = []
    for name in ("reference_cnn", "baseline"):
        art = ModelArtifact("reference_cnn", CLASSES, build_model("reference_cnn", 4).state_dict())
        path = art.save(tmp / f"{name}.pt")
        m = evaluate_model(path, test, tmp / f"eval_{name}", val=val, test_info=info,
                           split_info={"grouping": "artist"}, progress=False)
        models.append(ModelReport(name, m, tmp / f"eval_{name}", log if name == "baseline" else None))
    analysis = tmp / "cooccurrence.png"
    analysis.write_bytes((tmp / "eval_baseline" / "polyphony.png").read_bytes())
    counts = {"voice": 5, "bass": 6, "drums": 4, "piano": 3}
    ctx = ReportContext(
        title="Test report", subtitle="tiny", models=models,
        dataset={"tracks": 8, "split": "artist-grouped"}, label_counts=counts,
        split_counts={"train": counts, "test": counts}, train_counts_before=counts,
        train_counts_after={c: 6 for c in counts},
        example_logmels={"stem": np.load(paths[0]).astype(np.float32),
                         "mix": np.load(paths[5]).astype(np.float32)},
        analysis_figures={"Instrument co-occurrence": analysis},
        generalisation=[models[0]], generalisation_note="Unseen SoundFonts.",
        notes=["A note."], audio_root=tmp, audio_clips=3, audio_seconds=1.0,
    )
    out = write_report(tmp / "site", ctx)
    return {"path": out, "tmp": tmp, "models": models}


def test_report_is_self_contained(report):
    path = report["path"]
    assert path.name == "report.html" and path.is_file()
    tags = _parse(path)
    imgs = [a["src"] for t, a in tags if t == "img"]
    assert len(imgs) >= 10
    for src in imgs:
        head, _, payload = src.partition(",")
        assert head == "data:image/png;base64"
        assert base64.b64decode(payload, validate=True).startswith(PNG)
    sources = [a["src"] for t, a in tags if t == "source"]
    assert len(sources) == 3  # audio_clips
    for src in sources:
        head, _, payload = src.partition(",")
        data = base64.b64decode(payload, validate=True)
        assert (head, data[:4]) in {("data:audio/ogg;base64", b"OggS"), ("data:audio/flac;base64", b"fLaC")}
    for t, a in tags:  # every link to a file resolves
        href = a.get("href")
        if t == "a" and href and not href.startswith(("#", "http")):
            assert (path.parent / href).is_file(), href
    assert report_problems(path) == []


def test_report_shows_every_section(report):
    text = report["path"].read_text(encoding="utf-8")
    for needle in ("Models ranked", "Summary (test)", "Classification report", "samples avg",
                   "By polyphony", "Test mixes", "Artist_Song7", "Generalisation",
                   "Unseen SoundFonts.", "Instrument co-occurrence", "A note.", "Reference study",
                   "0.076", "0.9797", "0.9438", "per file, not per song", "tuned-on-val"):
        assert needle in text, needle
    for fig in ("label_distribution", "example_logmels", "split_counts", "balancing",
                "baseline_training_curves"):
        assert (report["path"].parent / "figures" / f"{fig}.png").is_file()
    # the ranking table lists both models, ranked 1 and 2
    ranking = text[text.index("Models ranked"):text.index('id="data"')]
    ranked = re.findall(r'<td class="num">(\d)</td><td>(reference_cnn|baseline)</td>', ranking)
    assert sorted(ranked) == [("1", ranked[0][1]), ("2", ranked[1][1])]
    assert {name for _, name in ranked} == {"reference_cnn", "baseline"}


def test_missing_figures_are_reported_not_referenced(report, tmp_path):
    ctx = ReportContext(analysis_figures=[tmp_path / "nope.png"])
    out = write_report(tmp_path, ctx)
    assert "Figure missing" in out.read_text(encoding="utf-8")
    assert report_problems(out) == []


def test_report_problems_finds_broken_references(tmp_path):
    page = tmp_path / "p.html"
    page.write_text('<img src="x.png"><img src="data:image/png;base64,AAAA">'
                    '<a href="gone.csv">x</a><a href="#top">ok</a>', encoding="utf-8")
    problems = report_problems(page)
    assert len(problems) == 3
    assert any("missing file gone.csv" in p for p in problems)


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed to render the report")
def test_report_renders_in_headless_chromium(report):
    from matplotlib.image import imread

    shot = take_screenshot(report["path"], report["tmp"] / "shot.png", width=1400, height=2400)
    data = shot.read_bytes()
    assert data.startswith(PNG)
    img = imread(shot)
    assert img.shape[:2] == (2400, 1400)
    assert img[..., :3].std() > 0.05  # not a blank page
