import logging
from pathlib import Path

import numpy as np
import pytest

from timbral import resources
from timbral.data.medleydb import (
    ACTIVATION_HOP_SECONDS,
    activation_file,
    artist_of,
    find_metadata,
    load_tracks,
    pitch_file,
    read_activations,
    read_pitch,
    read_track,
    read_tracklist,
)
from timbral.errors import DatasetError

# Activation files of the real metadata whose columns disagree with the stems:
# the five Phoenix files lack the `Main System` stem's column; PurlingHiss_Lolita has a
# column S07 where the metadata's S05 should be.
MISMATCHED_ACTIVATIONS = {
    "Phoenix_ColliersDaughter": ([], ["S05"]),
    "Phoenix_ElzicsFarewell": ([], ["S04"]),
    "Phoenix_LarkOnTheStrandDrummondCastle": ([], ["S04"]),
    "Phoenix_ScotchMorris": ([], ["S04"]),
    "Phoenix_SeanCaughlinsTheScartaglen": ([], ["S05"]),
    "PurlingHiss_Lolita": (["S07"], ["S05"]),
}


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg
    return msg


# --- the fake tree, end to end ---------------------------------------------------------------

def test_fake_tree_paths_exist(fake_medleydb):
    tracks = load_tracks(fake_medleydb.root)
    assert [t.track_id for t in tracks] == sorted(fake_medleydb.track_ids)
    n_raw = 0
    for t in tracks:
        assert t.audio_dir == fake_medleydb.root / "Audio" / t.track_id
        assert t.mix_path().is_file()
        for stem in t.stems:
            assert t.stem_path(stem).is_file()
            for raw in stem.raws:
                assert t.raw_path(raw).is_file()
                n_raw += 1
    assert n_raw > 0


def test_track_fields(fake_medleydb):
    tracks = {t.track_id: t for t in load_tracks(fake_medleydb.root)}
    adele = tracks[fake_medleydb.list_track]
    assert adele.artist == "Adele" and adele.genre == "Pop" and adele.title == "Someone Like You"
    assert [s.stem_id for s in adele.stems] == ["S01", "S02"]
    assert adele.stems[1].instruments == ("female singer", "vocalists")  # list-valued
    assert adele.stems[1].raws[0].instruments == ("female singer", "vocalists")
    assert adele.labels() == ["piano", "female singer", "vocalists"]
    assert adele.stems[1].index == 2
    assert tracks[fake_medleydb.system_track].stems[3].instruments == ("Main System",)
    assert "Unlabeled" in tracks[fake_medleydb.unlabeled_track].labels()
    noraw = tracks[fake_medleydb.noraw_track]
    assert noraw.stems and all(s.raws == () for s in noraw.stems)
    assert isinstance(adele.has_bleed, bool) and isinstance(adele.instrumental, bool)


def test_tracklist_selects_and_dedups(fake_medleydb, tmp_path):
    ids = [fake_medleydb.system_track, fake_medleydb.list_track, fake_medleydb.system_track]
    assert [t.track_id for t in load_tracks(fake_medleydb.root, ids)] == ids[:2]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# a comment\n\n{fake_medleydb.noraw_track}\n")
    assert read_tracklist(listing) == [fake_medleydb.noraw_track]
    assert [t.track_id for t in load_tracks(fake_medleydb.root, listing)] == [fake_medleydb.noraw_track]


def test_metadata_folder_layout(tmp_path):
    """A plain folder of *_METADATA.yaml (no Audio/) is read without audio paths."""
    found = find_metadata(resources.metadata_dir())
    assert len(found) == 330 and all(audio is None for _, audio in found.values())
    track = read_track(*found["Adele_SomeoneLikeYou"])
    assert track.mix_path() is None and track.stem_path(track.stems[0]) is None


def test_artist_of():
    assert artist_of("MusicDelta_80sRock") == "MusicDelta"
    assert artist_of("Bach10_05DieNacht") == "Bach10"


# --- all real metadata -------------------------------------------------------------------------

def test_all_real_metadata_parses():
    tracks = load_tracks(resources.metadata_dir())
    assert len(tracks) == 330
    list_stems = [s for t in tracks for s in t.stems if len(s.instruments) > 1]
    assert len(list_stems) == 106
    labels = {lab for t in tracks for lab in t.labels()}
    assert {"Unlabeled", "Main System", "crowd"} <= labels
    assert all(t.stems and t.genre != "Unknown" for t in tracks)


# --- annotations -------------------------------------------------------------------------------

def test_activation_both_layouts(fake_medleydb):
    root = fake_medleydb.root
    for track_id, path in fake_medleydb.activations.items():
        assert activation_file(root, track_id) == path
    layouts = {p.parent.relative_to(root).as_posix() for p in fake_medleydb.activations.values()}
    assert layouts == {"Annotations/Instrument_Activations/ACTIVATION_CONF",
                       "Annotations/Activation_Confidence"}
    assert activation_file(root, fake_medleydb.noraw_track) is None


def test_read_activations(fake_medleydb, caplog):
    track = load_tracks(fake_medleydb.root, [fake_medleydb.list_track])[0]
    with caplog.at_level(logging.WARNING):
        act = read_activations(fake_medleydb.activations[track.track_id], track)
    assert not caplog.records
    assert sorted(act.by_stem) == ["S01", "S02"]
    assert act.hop_seconds == pytest.approx(ACTIVATION_HOP_SECONDS, abs=1e-3)
    for values in act.by_stem.values():
        assert len(values) == len(act.times) and values.min() >= 0 and values.max() <= 1


def test_activation_missing_column_warns(fake_medleydb, caplog):
    track = load_tracks(fake_medleydb.root, [fake_medleydb.system_track])[0]
    with caplog.at_level(logging.WARNING):
        act = read_activations(activation_file(fake_medleydb.root, track.track_id), track)
    assert sorted(act.by_stem) == ["S01", "S02", "S03"]  # S04 (Main System) has no column
    assert any("S04" in r.getMessage() for r in caplog.records)


def test_real_activation_mismatches_handled_by_stem_id(caplog):
    """All 264 real activation files read; exactly the known six disagree, and only warn."""
    tracks = {t.track_id: t for t in load_tracks(resources.metadata_dir())}
    files = sorted(resources.activation_dir().glob("*_ACTIVATION_CONF.lab"))
    assert len(files) == 264
    found = {}
    for path in files:
        track = tracks[path.name[: -len("_ACTIVATION_CONF.lab")]]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="timbral.data.medleydb"):
            act = read_activations(path, track)
        stem_ids = {s.stem_id for s in track.stems}
        assert set(act.by_stem) <= stem_ids
        if caplog.records:
            columns = set(act.by_stem)
            found[track.track_id] = (stem_ids - columns)
    assert set(found) == set(MISMATCHED_ACTIVATIONS)
    for track_id, (_extra, missing) in MISMATCHED_ACTIVATIONS.items():
        assert sorted(found[track_id]) == missing
    lolita = read_activations(resources.activation_dir() / "PurlingHiss_Lolita_ACTIVATION_CONF.lab",
                              tracks["PurlingHiss_Lolita"])
    assert "S07" not in lolita.by_stem


def test_read_pitch_both_forms(fake_medleydb):
    tracks = {t.track_id: t for t in load_tracks(fake_medleydb.root)}
    for (track_id, stem_id), (path, expected) in fake_medleydb.pitch.items():
        stem = next(s for s in tracks[track_id].stems if s.stem_id == stem_id)
        assert pitch_file(fake_medleydb.root, track_id, stem) == path
        times, f0 = read_pitch(path)
        np.testing.assert_allclose(times, expected[:, 0], atol=1e-6)
        np.testing.assert_allclose(f0, expected[:, 1], atol=1e-3)
    adele = tracks[fake_medleydb.list_track]
    assert pitch_file(fake_medleydb.root, adele.track_id, adele.stems[0]) is None


def test_bad_activation_and_pitch_files(tmp_path):
    bad = tmp_path / "X_ACTIVATION_CONF.lab"
    bad.write_text("onset,S01\n0.0,0.5\n")
    with pytest.raises(DatasetError, match="header") as info:
        read_activations(bad)
    assert str(bad) in one_line(info.value)
    pitch = tmp_path / "X_STEM_01.csv"
    pitch.write_text("time,f0\n0.0,abc\n")
    with pytest.raises(DatasetError, match="pitch") as info:
        read_pitch(pitch)
    assert str(pitch) in one_line(info.value)


# --- bad input ---------------------------------------------------------------------------------

def test_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="no such directory") as info:
        load_tracks(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in one_line(info.value)


def test_root_without_metadata(tmp_path):
    (tmp_path / "Audio" / "A_B").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no MedleyDB metadata") as info:
        load_tracks(tmp_path)
    one_line(info.value)


def test_missing_yaml_in_song_folder(fake_medleydb, caplog):
    fake_medleydb.metadata(fake_medleydb.list_track).unlink()
    with caplog.at_level(logging.WARNING, logger="timbral.data.medleydb"):
        assert len(load_tracks(fake_medleydb.root)) == 3
    assert any(fake_medleydb.list_track in r.getMessage() for r in caplog.records)
    with pytest.raises(DatasetError, match="not found") as info:
        load_tracks(fake_medleydb.root, [fake_medleydb.list_track])
    assert fake_medleydb.list_track in one_line(info.value)
    with pytest.raises(DatasetError, match="metadata file not found"):
        read_track(Path(fake_medleydb.metadata(fake_medleydb.list_track)))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("stems: {S01: [unclosed\n", "malformed YAML"),
        ("- just\n- a list\n", "no `stems` mapping"),
        ("stems:\n  S01: {instrument: piano}\n", "has no filename"),
        ("stems:\n  S01: {filename: a.wav, instrument: 3}\n", "`instrument` must be"),
    ],
)
def test_malformed_yaml(fake_medleydb, text, needle):
    path = fake_medleydb.metadata(fake_medleydb.list_track)
    path.write_text(text)
    with pytest.raises(DatasetError, match=needle) as info:
        load_tracks(fake_medleydb.root)
    assert str(path) in one_line(info.value)


def test_tracklist_names_missing_track(fake_medleydb, tmp_path):
    listing = tmp_path / "tracks.txt"
    listing.write_text(f"{fake_medleydb.list_track}\nNobody_NoSong\n")
    with pytest.raises(DatasetError, match="Nobody_NoSong") as info:
        load_tracks(fake_medleydb.root, listing)
    assert str(listing) in one_line(info.value)


def test_tracklist_unreadable_or_empty(tmp_path):
    with pytest.raises(DatasetError, match="cannot read track list"):
        read_tracklist(tmp_path / "absent.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(DatasetError, match="empty"):
        read_tracklist(empty)
