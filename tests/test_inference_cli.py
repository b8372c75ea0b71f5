"""`timbral predict`: inputs, formats, options, default model, bad files and exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest
import soundfile as sf
from test_inference import CLASSES, make_artifact, music

from timbral.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_artifact(tmp_path_factory.mktemp("model") / "model.pt")


@pytest.fixture
def songs(tmp_path):
    folder = tmp_path / "songs"
    (folder / "sub").mkdir(parents=True)
    sf.write(folder / "a.wav", music(2.0, seed=1), 44100)
    sf.write(folder / "sub" / "b.flac", music(1.2, sr=48000, seed=2), 48000)
    (folder / "readme.txt").write_text("not audio, and not picked up from a folder")
    return folder


def test_folder_to_json(model, songs, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["predict", str(songs), "--model", str(model), "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [d["file"] for d in data] == [str(songs / "a.wav"), str(songs / "sub" / "b.flac")]
    assert data[1]["sr"] == 48000 and [i["name"] for i in data[0]["instruments"]] == CLASSES
    assert capsys.readouterr().err == ""


def test_single_file_json_is_one_object(model, songs, capsys):
    assert main(["predict", str(songs / "a.wav"), "--model", str(model), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["file"] == str(songs / "a.wav") and len(data["timeline"]) == 3


def test_options_reach_the_tagger(model, songs, capsys):
    args = ["predict", str(songs / "a.wav"), "--model", str(model), "--format", "json",
            "--hop", "1.0", "--threshold", "0", "--aggregate", "mean", "--batch-size", "1"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert [w["start"] for w in data["timeline"]] == [0.0, 1.0]
    assert data["aggregate"] == "mean" and all(i["present"] for i in data["instruments"])


def test_csv_and_table(model, songs, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert main(["predict", str(songs), "--model", str(model), "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["file", "kind", "start", "end", "present", *CLASSES]
    assert [r["kind"] for r in rows].count("clip") == 2
    assert main(["predict", str(songs / "a.wav"), "--model", str(model)]) == 0
    table = capsys.readouterr().out
    assert table.startswith(str(songs / "a.wav")) and "44100 Hz" in table


def test_bad_files_one_line_each_others_still_tagged_exit_2(model, songs, tmp_path, capsys):
    (songs / "broken.wav").write_bytes(b"RIFF\x00\x00garbage" * 20)
    (songs / "empty.flac").write_bytes(b"")
    out = tmp_path / "r.json"
    missing = tmp_path / "nowhere.ogg"
    code = main(["predict", str(songs), str(missing), "--model", str(model), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("timbral: error: ") for line in err)
    joined = "\n".join(err)
    for name in ("broken.wav", "empty.flac", "nowhere.ogg: file not found"):
        assert name in joined
    assert [d["file"].rsplit("/", 1)[-1] for d in json.loads(out.read_text())] == ["a.wav", "b.flac"]


def test_empty_folder_is_an_error(model, tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    assert main(["predict", str(tmp_path / "nothing"), "--model", str(model)]) == 2
    assert "no audio files found" in capsys.readouterr().err


def test_plot_writes_one_png_per_file(model, songs, tmp_path):
    plots = tmp_path / "plots"
    assert main(["predict", str(songs), "--model", str(model), "--plot", "--plot-dir", str(plots),
                 "--format", "csv", "--out", str(tmp_path / "r.csv")]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["a.timeline.png", "b.timeline.png"]


def test_default_model_missing_says_how_to_get_one(songs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIMBRAL_MODEL", raising=False)
    assert main(["predict", str(songs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "runs/demo/best_model.pt" in err[0] and "scripts/demo.sh" in err[0]
    monkeypatch.setenv("TIMBRAL_MODEL", str(tmp_path / "gone.pt"))
    assert main(["predict", str(songs)]) == 2
    assert "gone.pt" in capsys.readouterr().err


def test_default_model_from_env_or_demo_run(model, songs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIMBRAL_MODEL", str(model))
    assert main(["predict", str(songs / "a.wav"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == str(model)
    monkeypatch.delenv("TIMBRAL_MODEL")
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    (tmp_path / "runs" / "demo" / "best_model.pt").write_bytes(model.read_bytes())
    assert main(["predict", str(songs / "a.wav"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "runs/demo/best_model.pt"


@pytest.mark.parametrize("bad", [["--hop", "0"], ["--threshold", "3"], ["--batch-size", "0"]])
def test_bad_options_exit_2(model, songs, capsys, bad):
    assert main(["predict", str(songs), "--model", str(model), *bad]) == 2
    assert capsys.readouterr().err.startswith("timbral: error: ")


def test_bad_model_exit_2(songs, tmp_path, capsys):
    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a model")
    assert main(["predict", str(songs), "--model", str(fake)]) == 2
    assert "not a timbral model artifact" in capsys.readouterr().err
