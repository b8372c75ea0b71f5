import json

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from timbral import resources
from timbral.analysis import analyze
from timbral.cli import main
from timbral.errors import ConfigError
from timbral.taxonomy import load_taxonomy

V1_COUNTS = {
    "voice": 460, "strings": 236, "acoustic guitars": 123, "electric guitars": 350,
    "folk guitars": 53, "harps": 38, "bass": 274, "woodwinds": 142, "brass": 129,
    "free reed": 30, "piano": 250, "electronic keys": 183, "drums": 637, "percussion": 199,
    "pitched percussion": 71, "electronic fx": 138, "system": 24,
}
TABLES = ["label_counts.csv", "label_counts_by_kind.csv", "fine_label_counts.csv",
          "genre_instrument_fine.csv", "genre_instrument_macro.csv",
          "cooccurrence_fine.csv", "cooccurrence_macro.csv", "summary.json"]
FIGURES = ["label_distribution.png", "genre_instrument_fine.png", "genre_instrument_macro.png",
           "cooccurrence_fine.png", "cooccurrence_macro.png"]


def read_matrix(path):
    return pd.read_csv(path, index_col=0)


def test_v1_label_counts(v1_tracklist, tmp_path):
    paths = analyze(tracks=v1_tracklist, out=tmp_path, figures=False)
    counts = pd.read_csv(paths["label_counts.csv"])
    assert list(counts.columns) == ["class", "count"]
    assert dict(zip(counts["class"], counts["count"])) == V1_COUNTS
    summary = json.loads(paths["summary.json"].read_text())
    assert (summary["n_songs"], summary["n_files"], summary["n_labels"]) == (122, 2879, 3337)
    assert not list(tmp_path.glob("*.png"))


def test_cli_on_fake_tree(fake_medleydb, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert main(["analyze", "--metadata", str(fake_medleydb.root), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "4 songs" in lines[0] and str(out) in lines[0]
    for name in TABLES + FIGURES:
        assert (out / name).is_file(), name
    for name in FIGURES:
        image = imread(out / name)
        assert image.shape[0] > 300 and image.shape[1] > 300
    assert not list(out.glob(".*tmp"))


def test_genre_rows_stay_with_their_songs(fake_medleydb, tmp_path):
    """Each fake song has its own genre: its instruments, and only those, count in that column."""
    paths = analyze(metadata=fake_medleydb.root, out=tmp_path, figures=False)
    fine = read_matrix(paths["genre_instrument_fine.csv"])
    macro = read_matrix(paths["genre_instrument_macro.csv"])
    assert list(fine.columns) == ["Pop", "Rap", "Singer/Songwriter", "World/Folk"]
    expected_fine = {
        "Pop": {"piano", "female singer", "vocalists"},  # Adele_SomeoneLikeYou
        "Singer/Songwriter": {"acoustic guitar", "female singer"},  # LizNelson_Coldwar
        "World/Folk": {"acoustic guitar", "flute", "violin", "Main System"},  # Phoenix_ScotchMorris
    }
    for genre, labels in expected_fine.items():
        assert set(fine.index[fine[genre] > 0]) == labels, genre
        assert (fine.loc[list(labels), genre] == 1).all()
    assert set(macro.index[macro["World/Folk"] > 0]) == {"acoustic guitars", "woodwinds", "strings",
                                                         "system"}
    assert set(macro.index[macro["Pop"] > 0]) == {"voice", "piano"}
    assert list(macro.index) == list(load_taxonomy().classes)
    assert "Unlabeled" not in fine.index


def test_genre_matrix_matches_the_yaml_files(tmp_path):
    """On all 330 real songs, every genre column equals a count made straight from the YAML."""
    paths = analyze(out=tmp_path, figures=False)
    macro = read_matrix(paths["genre_instrument_macro.csv"])
    tax = load_taxonomy()
    expected = pd.DataFrame(0, index=macro.index, columns=macro.columns)
    for path in resources.metadata_dir().glob("*_METADATA.yaml"):
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        labels = set()
        for stem in data["stems"].values():
            inst = stem["instrument"]
            labels.update([inst] if isinstance(inst, str) else inst)
        for cls in {tax.to_class(lab) for lab in labels} - {None}:
            expected.loc[cls, data["genre"]] += 1
    pd.testing.assert_frame_equal(macro, expected, check_names=False)
    assert macro["Rap"].sum() > 0 and int(macro.loc["voice"].sum()) == 206


def test_cooccurrence(fake_medleydb, tmp_path):
    paths = analyze(metadata=fake_medleydb.root, out=tmp_path, figures=False)
    fine = read_matrix(paths["cooccurrence_fine.csv"])
    macro = read_matrix(paths["cooccurrence_macro.csv"])
    genre = read_matrix(paths["genre_instrument_fine.csv"])
    for m in (fine, macro):
        np.testing.assert_array_equal(m.to_numpy(), m.to_numpy().T)
    np.testing.assert_array_equal(np.diag(fine), genre.sum(axis=1).loc[fine.index])
    assert fine.loc["female singer", "female singer"] == 2  # Adele, LizNelson
    assert fine.loc["female singer", "vocalists"] == 1  # Adele only
    assert fine.loc["acoustic guitar", "female singer"] == 1  # LizNelson only
    assert fine.loc["flute", "piano"] == 0
    assert macro.loc["voice", "voice"] == 3  # Adele, LizNelson, VanillaIce
    assert macro.loc["system", "strings"] == 1


def test_kinds_and_fine_taxonomy(fake_medleydb, tmp_path):
    mix = analyze(metadata=fake_medleydb.root, kinds="mix", out=tmp_path / "mix", figures=False)
    counts = pd.read_csv(mix["label_counts.csv"]).set_index("class")["count"]
    macro = read_matrix(mix["cooccurrence_macro.csv"])
    np.testing.assert_array_equal(counts.to_numpy(), np.diag(macro))  # one mix per song
    fine = analyze(metadata=fake_medleydb.root, taxonomy="fine", out=tmp_path / "fine",
                   kinds=("stem",), figures=False)
    fine_counts = pd.read_csv(fine["label_counts.csv"])
    labels = pd.read_csv(fine["fine_label_counts.csv"])
    assert set(labels["label"]) == set(fine_counts.loc[fine_counts["count"] > 0, "class"])
    assert (labels["label"] == labels["class"]).all()


def test_analyze_needs_out():
    with pytest.raises(ConfigError, match="out"):
        analyze()


def run_cli(args, capsys):
    code = main(["analyze", *args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_cli_errors(fake_medleydb, tmp_path, capsys):
    out = str(tmp_path / "out")
    root = fake_medleydb.root

    code, err = run_cli(["--metadata", str(tmp_path / "nowhere"), "--out", out], capsys)
    assert code == 2 and len(err) == 1 and "nowhere" in err[0] and err[0].startswith("timbral: error:")

    listing = tmp_path / "tracks.txt"
    listing.write_text("Nobody_NoSong\n")
    code, err = run_cli(["--metadata", str(root), "--tracks", str(listing), "--out", out], capsys)
    assert code == 2 and len(err) == 1 and "Nobody_NoSong" in err[0] and str(listing) in err[0]

    for args, needle in (
        (["--kinds", "mix,video"], "video"),
        (["--taxonomy", "nonexistent17"], "nonexistent17"),
    ):
        code, err = run_cli(["--metadata", str(root), *args, "--out", out], capsys)
        assert code == 2 and len(err) == 1 and needle in err[0]

    def kazoo(data):
        next(iter(data["stems"].values()))["instrument"] = "kazoo"

    bad = fake_medleydb.edit_metadata(fake_medleydb.list_track, kazoo)
    code, err = run_cli(["--metadata", str(root), "--out", out], capsys)
    assert code == 2 and len(err) == 1 and "'kazoo'" in err[0] and bad.name in err[0]
    code, err = run_cli(["--metadata", str(root), "--skip-unmapped", "--no-figures", "--out", out],
                        capsys)
    assert code == 0 and not err

    meta = fake_medleydb.metadata(fake_medleydb.noraw_track)
    meta.write_text("stems: {S01: [unclosed\n")
    code, err = run_cli(["--metadata", str(root), "--out", out], capsys)
    assert code == 2 and len(err) == 1 and str(meta) in err[0] and "malformed YAML" in err[0]

    meta.unlink()
    listing.write_text(f"{fake_medleydb.noraw_track}\n")
    code, err = run_cli(["--metadata", str(root), "--tracks", str(listing), "--out", out], capsys)
    assert code == 2 and len(err) == 1 and fake_medleydb.noraw_track in err[0]
