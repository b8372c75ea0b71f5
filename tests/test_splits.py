import logging

import numpy as np
import pandas as pd
import pytest

from timbral import resources
from timbral.data.manifest import build_manifest
from timbral.data.splits import SPLITS, check_no_leak, split_counts, split_manifest
from timbral.errors import ConfigError, DatasetError

TARGET = {"train": 0.60, "val": 0.24, "test": 0.16}
TOLERANCE = 0.05  # "within a few points" of the target share
ENOUGH_GROUPS = 15  # a class needs this many artists (tracks) for its shares to be held to it


@pytest.fixture(scope="module")
def real():
    """Metadata-only manifest of all 330 real tracks, kinds mix + stem + raw."""
    return build_manifest(resources.metadata_dir(), metadata_only=True)


def groups_per_class(m, key):
    return {c: m.rows.loc[m.y[:, i] > 0, key].nunique() for i, c in enumerate(m.classes)}


@pytest.mark.parametrize(("group", "key"), [("artist", "artist"), ("track", "track_id")])
def test_grouped_split_of_all_real_tracks(real, group, key):
    split = split_manifest(real, seed=0, group=group)
    assert split.shape == (len(real),) and set(split) == set(SPLITS)
    check_no_leak(real.rows, split, group=group)
    if group == "artist":
        check_no_leak(real.rows, split, group="track")  # artist-grouped implies song-grouped
        assert (real.rows.groupby("artist")["track_id"].nunique() > 1).any()
    sides = real.rows.groupby(key).apply(lambda g: split[g.index].tolist(), include_groups=False)
    assert all(len(set(s)) == 1 for s in sides)

    table = split_counts(real, split)
    assert (table[list(SPLITS)].sum(axis=1) == table["total"]).all()
    enough = groups_per_class(real, key)
    checked = [c for c in real.classes if enough[c] >= ENOUGH_GROUPS]
    assert len(checked) >= 12
    for cls in checked:
        for side, share in TARGET.items():
            assert abs(table.loc[cls, f"{side}_frac"] - share) <= TOLERANCE, (cls, side)
    sizes = pd.Series(split).value_counts(normalize=True)
    for side, share in TARGET.items():
        assert abs(sizes[side] - share) <= 0.02


def test_seeded_and_reproducible(real):
    a = split_manifest(real, seed=3)
    b = split_manifest(real, seed=3)
    np.testing.assert_array_equal(a, b)
    c = split_manifest(real, seed=4)
    assert (a != c).any()
    check_no_leak(real.rows, c)


def test_rows_and_y_input(real):
    rows = real.rows
    from_rows = split_manifest(rows, seed=1)  # y built from the `classes` column
    from_y = split_manifest(rows, real.y, seed=1)
    from_manifest = split_manifest(real, seed=1)
    assert set(from_rows) == set(SPLITS)
    np.testing.assert_array_equal(from_y, from_manifest)


def test_clip_mode_reproduces_the_leaky_protocol(real, caplog):
    with caplog.at_level(logging.WARNING, logger="timbral.data.splits"):
        split = split_manifest(real, seed=0, group="clip")
    assert any("leaks" in r.getMessage() for r in caplog.records)
    table = split_counts(real, split)
    for side, share in TARGET.items():
        assert (abs(table[f"{side}_frac"] - share) <= 0.02).all()
    with pytest.raises(DatasetError, match="leaks .* track"):
        check_no_leak(real.rows, split, group="track")
    with pytest.raises(ConfigError):
        check_no_leak(real.rows, split, group="clip")


def test_check_no_leak_names_the_groups():
    rows = pd.DataFrame({
        "track_id": ["A_x", "A_x", "A_y", "B_z", "C_w", "C_w"],
        "artist": ["A", "A", "A", "B", "C", "C"],
    })
    check_no_leak(rows, np.array(["train", "train", "train", "val", "test", "test"]))
    bad = np.array(["train", "train", "test", "val", "test", "val"])
    with pytest.raises(DatasetError) as info:
        check_no_leak(rows, bad)
    msg = str(info.value)
    assert "\n" not in msg and "2 artist(s)" in msg
    assert "A in test+train" in msg and "C in test+val" in msg and "B" not in msg.split(":")[-1]
    with pytest.raises(DatasetError, match="C_w in test\\+val"):
        check_no_leak(rows, bad, group="track")
    with pytest.raises(DatasetError, match="6 rows"):
        check_no_leak(rows, bad[:3])


def test_artist_from_track_id_when_no_artist_column():
    rows = pd.DataFrame({"track_id": ["A_x", "A_y"], "classes": [["a"], ["a"]]})
    with pytest.raises(DatasetError, match="A in"):
        check_no_leak(rows, np.array(["train", "val"]))


def test_split_counts_from_matrix():
    y = np.array([[1, 0], [1, 1], [0, 1], [1, 0], [1, 1]])
    split = np.array(["train", "train", "val", "test", "train"])
    table = split_counts(y, split, ["a", "b"])
    assert table.loc["a", ["train", "val", "test", "total"]].tolist() == [3, 0, 1, 4]
    assert table.loc["b", ["train", "val", "test", "total"]].tolist() == [2, 1, 0, 3]
    assert table.loc["a", "train_frac"] == 0.75
    with pytest.raises(DatasetError):
        split_counts(y, split[:3], ["a", "b"])
    with pytest.raises(ConfigError):
        split_counts(y, split)


def test_small_fake_tree(fake_medleydb):
    m = build_manifest(fake_medleydb.root)
    split = split_manifest(m, group="track", seed=0)
    check_no_leak(m.rows, split, group="track")
    assert set(split) == set(SPLITS)  # four songs fill three sides


def test_bad_arguments(real, fake_medleydb):
    with pytest.raises(ConfigError, match="song"):
        split_manifest(real, group="song")
    with pytest.raises(ConfigError, match="fractions"):
        split_manifest(real, fractions=(0.5, 0.5))
    with pytest.raises(ConfigError, match="fractions"):
        split_manifest(real, fractions=(0.7, 0.2, 0.2))
    with pytest.raises(DatasetError, match="do not match"):
        split_manifest(real.rows, real.y[:10])
    m = build_manifest(fake_medleydb.root)
    two = m.rows[m.rows["track_id"].isin(m.rows["track_id"].unique()[:2])].reset_index(drop=True)
    with pytest.raises(DatasetError, match="cannot fill 3 sides"):
        split_manifest(two, group="track")
    with pytest.raises(DatasetError, match="no rows"):
        split_manifest(m.rows.iloc[:0], np.zeros((0, 17)))
