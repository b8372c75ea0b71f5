"""The whole study on the tiny preset, through the CLI: every artifact exists and loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from timbral.artifact import ModelArtifact
from timbral.data.manifest import Manifest
from timbral.pipeline.config import MODEL_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def timbral(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "timbral", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-run")
    done = timbral("run", "--preset", "tiny", "--out", str(out), "--jobs", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_every_stage_leaves_a_loadable_artifact(run_dir):
    out, stdout = run_dir
    manifest = Manifest.load(out / "manifest.parquet")
    assert set(manifest.rows["kind"]) == {"mix", "stem", "raw"}
    split = pd.read_parquet(out / "split.parquet")
    assert set(split["split"]) == {"train", "val", "test"}
    assert split.groupby("artist")["split"].nunique().max() == 1  # no artist on two sides
    for model in MODEL_NAMES:
        artifact = ModelArtifact.load(out / "models" / model / "model.pt")
        assert artifact.classes == manifest.classes
        metrics = json.loads((out / "eval" / model / "metrics.json").read_text())
        for key in ("macro_f1", "micro_f1", "map_macro", "auc_macro", "per_class"):
            assert key in metrics
        assert (out / "eval" / model / "classification_report.csv").stat().st_size > 0
    assert ModelArtifact.load(out / "best_model.pt").model_name in MODEL_NAMES
    assert (out / "analysis" / "label_counts.csv").exists()
    assert list((out / "tag").glob("*.json")) and list((out / "tag").glob("*.png"))
    report = (out / "report.html").read_text()
    assert "<img" in report and "macro" in report.lower()
    assert "report:" in stdout and "macro_f1" in stdout


def test_second_run_reuses_every_stage(run_dir):
    out, _ = run_dir
    again = timbral("run", "--preset", "tiny", "--out", str(out), "--jobs", "2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reused" in again.stdout
    assert "epochs (best" not in again.stdout  # no model was retrained
    features = next(line for line in again.stdout.splitlines() if line.startswith("[ features]"))
    assert "cached" in features and "extracted" not in features
    evaluations = [line for line in again.stdout.splitlines() if line.startswith("[ evaluate]")]
    assert evaluations and all("reused" in line for line in evaluations)


def test_bad_preset_is_one_line_exit_2(tmp_path):
    done = timbral("run", "--preset", "huge", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "huge" in done.stderr
