import os

import numpy as np
import pandas as pd
import pytest

from timbral import resources
from timbral.data.manifest import COLUMNS, Manifest, build_manifest, parse_kinds
from timbral.data.medleydb import load_tracks, read_tracklist
from timbral.errors import DatasetError, TaxonomyError

# The reference study's class counts on MedleyDB V1 (mix + stem + raw files).
V1_COUNTS = {
    "voice": 460, "strings": 236, "acoustic guitars": 123, "electric guitars": 350,
    "folk guitars": 53, "harps": 38, "bass": 274, "woodwinds": 142, "brass": 129,
    "free reed": 30, "piano": 250, "electronic keys": 183, "drums": 637, "percussion": 199,
    "pitched percussion": 71, "electronic fx": 138, "system": 24,
}


def one_line(exc: BaseException) -> str:
    assert "\n" not in str(exc)
    return str(exc)


def test_fake_tree_manifest(fake_medleydb):
    m = build_manifest(fake_medleydb.root)
    assert list(m.rows.columns) == COLUMNS
    assert m.classes[0] == "voice" and len(m.classes) == 17
    assert m.rows["path"].map(os.path.isfile).all()
    assert m.rows["item_id"].is_unique
    tracks = {t.track_id: t for t in load_tracks(fake_medleydb.root)}
    mixes = m.rows[m.rows["kind"] == "mix"]
    assert sorted(mixes["track_id"]) == sorted(tracks)
    # every row has a class and its multi-hot row agrees
    y = m.y
    assert y.shape == (len(m), 17) and (y.sum(axis=1) >= 1).all()
    for row, yrow in zip(m.rows.itertuples(), y):
        assert [m.classes[i] for i in np.flatnonzero(yrow)] == row.classes


def test_label_rules(fake_medleydb):
    rows = build_manifest(fake_medleydb.root).rows
    adele = rows[rows["track_id"] == fake_medleydb.list_track]
    stem2 = adele[(adele["kind"] == "stem") & (adele["stem_id"] == "S02")].iloc[0]
    assert stem2["fine_labels"] == ["female singer", "vocalists"] and stem2["classes"] == ["voice"]
    raws = adele[(adele["kind"] == "raw") & (adele["stem_id"] == "S02")]
    assert len(raws) == 2 and all(r == ["female singer", "vocalists"] for r in raws["fine_labels"])
    mix = adele[adele["kind"] == "mix"].iloc[0]
    assert mix["classes"] == ["voice", "piano"]  # union of the stems, in class order

    system = rows[rows["track_id"] == fake_medleydb.system_track]
    assert "system" in system[system["kind"] == "mix"].iloc[0]["classes"]
    assert (system[system["stem_id"] == "S04"]["classes"].map(tuple) == ("system",)).all()

    # `Unlabeled` stems carry no class: their stem and raw rows are left out
    track = load_tracks(fake_medleydb.root, [fake_medleydb.unlabeled_track])[0]
    unlabeled = {s.stem_id for s in track.stems if s.instruments == ("Unlabeled",)}
    ice = rows[rows["track_id"] == fake_medleydb.unlabeled_track]
    assert unlabeled and not set(ice["stem_id"]) & unlabeled
    assert all("Unlabeled" not in labs for labs in ice["fine_labels"])

    noraw = rows[rows["track_id"] == fake_medleydb.noraw_track]
    assert sorted(noraw["kind"].unique()) == ["mix", "stem"]


def test_kinds(fake_medleydb):
    full = build_manifest(fake_medleydb.root)
    for kinds in ("mix", "stem", "raw", "mix,raw"):
        m = build_manifest(fake_medleydb.root, kinds=kinds)
        assert set(m.rows["kind"]) == set(kinds.split(","))
        assert len(m) == full.rows["kind"].isin(kinds.split(",")).sum()
    assert parse_kinds(["raw", "mix"]) == ("mix", "raw")
    with pytest.raises(DatasetError, match="video"):
        parse_kinds("mix,video")


def test_save_load_roundtrip(fake_medleydb, tmp_path):
    m = build_manifest(fake_medleydb.root)
    path = m.save(tmp_path / "sub" / "manifest.parquet")
    back = Manifest.load(path)
    assert back.classes == m.classes and back.taxonomy == "macro17"
    pd.testing.assert_frame_equal(back.rows, m.rows)
    np.testing.assert_array_equal(back.y, m.y)
    assert not list(tmp_path.glob("sub/*.tmp"))
    garbage = tmp_path / "garbage.parquet"
    garbage.write_text("not parquet")
    with pytest.raises(DatasetError, match="not a timbral manifest") as info:
        Manifest.load(garbage)
    assert str(garbage) in one_line(info.value)


def test_missing_audio(fake_medleydb):
    track = load_tracks(fake_medleydb.root, [fake_medleydb.list_track])[0]
    missing = track.stem_path(track.stems[0])
    missing.unlink()
    with pytest.raises(DatasetError, match="missing") as info:
        build_manifest(fake_medleydb.root)
    assert str(missing) in one_line(info.value)
    m = build_manifest(fake_medleydb.root, metadata_only=True)  # lists it anyway
    assert str(missing) in set(m.rows["path"])
    with pytest.raises(DatasetError, match="no audio beside it"):
        build_manifest(resources.metadata_dir(), tracklist=[fake_medleydb.list_track])


def test_unknown_labels_listed_with_their_files(fake_medleydb):
    def relabel(label):
        def edit(data):
            next(iter(data["stems"].values()))["instrument"] = label
        return edit

    a = fake_medleydb.edit_metadata(fake_medleydb.list_track, relabel("kazoo"))
    b = fake_medleydb.edit_metadata(fake_medleydb.noraw_track, relabel(["theremin", "kazoo"]))
    with pytest.raises(TaxonomyError) as info:
        build_manifest(fake_medleydb.root)
    msg = one_line(info.value)
    assert "2 label(s)" in msg and "'kazoo'" in msg and "'theremin'" in msg
    kazoo = msg[msg.index("'kazoo'"): msg.index("'theremin'")]
    assert a.name in kazoo and b.name in kazoo
    assert b.name in msg[msg.index("'theremin'"):]

    m = build_manifest(fake_medleydb.root, skip_unmapped=True)
    assert not any({"kazoo", "theremin"} & set(labs) for labs in m.rows["fine_labels"])
    adele = m.rows[m.rows["track_id"] == fake_medleydb.list_track]
    assert "S01" not in set(adele["stem_id"])  # its only label was unmapped


def test_all_real_metadata_builds():
    m = build_manifest(resources.metadata_dir(), metadata_only=True)
    assert (m.rows["kind"] == "mix").sum() == 330
    assert m.rows["track_id"].nunique() == 330
    assert (m.y.sum(axis=1) >= 1).all()
    assert set(m.rows["kind"]) == {"mix", "stem", "raw"}


def test_v1_counts_reproduce_the_reference(v1_tracklist):
    ids = read_tracklist(v1_tracklist)
    assert len(ids) == 122
    m = build_manifest(resources.metadata_dir(), tracklist=v1_tracklist, metadata_only=True)
    counts = dict(zip(m.classes, m.y.sum(axis=0).astype(int).tolist()))
    assert counts == V1_COUNTS
    assert len(m) == 2879 and int(m.y.sum()) == 3337
