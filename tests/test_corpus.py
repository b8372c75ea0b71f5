"""The rendered corpus: layout read by the dataset layer, annotations, determinism, resume, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from timbral.cli import main
from timbral.corpus import PRESETS, render_corpus, synth
from timbral.corpus.activity import FRAME, frames_for
from timbral.data.audio import audio_info
from timbral.data.manifest import build_manifest
from timbral.data.medleydb import activation_file, load_tracks, read_activations, read_pitch
from timbral.errors import ConfigError, DatasetError
from timbral.resources import metadata_dir

# One track with a real activation curve and a drum kit with many raws, one without a curve
# (generated activity) that has a Main System stem.
TRACKS = ["CroqueMadame_Oil", "TemperedElan_WiseOne"]
SECONDS = 4.0


def _render(out: Path, **kw) -> Path:
    return render_corpus(out, tracks=TRACKS, duration=SECONDS, n_jobs=1, progress=False, **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return _render(tmp_path_factory.mktemp("corpus") / "c")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "timbral-corpus" not in str(p) and p.name != "corpus.json"}


def test_layout_is_read_like_medleydb(corpus):
    manifest = build_manifest(corpus, kinds="mix,stem,raw")
    kinds = manifest.rows["kind"].value_counts().to_dict()
    assert kinds["mix"] == 2 and kinds["stem"] >= 4 and kinds["raw"] >= 4
    for path, kind in zip(manifest.rows["path"], manifest.rows["kind"], strict=True):
        info = audio_info(path)
        assert info.sr == 44100
        assert abs(info.duration - SECONDS) < 0.01
        assert info.channels == (2 if kind == "mix" else 1)
        y, _ = sf.read(path)
        assert np.abs(y).max() > 1e-3, f"{path} is silent"
    drum_raws = [p for p in manifest.rows["path"] if "CroqueMadame_Oil_RAW_04_" in p]
    assert len(drum_raws) >= 3  # kit pieces rendered separately
    assert {"drums", "bass", "piano", "system", "woodwinds", "harps"} <= set(
        c for cs in manifest.rows["classes"] for c in cs)


def test_metadata_is_restricted_to_what_was_rendered(corpus):
    for track in load_tracks(corpus):
        for stem in track.stems:
            assert track.stem_path(stem).is_file()
            for raw in stem.raws:
                assert track.raw_path(raw).is_file()
        rendered = sorted(p.name for p in (track.audio_dir / track.stem_dir).iterdir())
        assert rendered == sorted(s.filename for s in track.stems)


def test_mix_is_the_sum_of_the_stems(corpus):
    track = load_tracks(corpus, ["CroqueMadame_Oil"])[0]
    mix, _ = sf.read(track.mix_path())
    stems = sum(sf.read(track.stem_path(s))[0] for s in track.stems)
    assert np.abs(mix.mean(axis=1) - stems).max() < 2e-3 * len(track.stems)


def test_activation_files(corpus):
    record = json.loads((corpus / "corpus.json").read_text())
    for track in load_tracks(corpus):
        path = activation_file(corpus, track.track_id)
        lines = path.read_text().splitlines()
        assert lines[0] == "time," + ",".join(s.stem_id for s in track.stems)
        assert all(len(v.split(".")[1]) == 4 for v in lines[1].split(","))
        acts = read_activations(path, track)
        assert len(acts.times) == frames_for(SECONDS)
        assert np.allclose(np.diff(acts.times), FRAME, atol=1e-4)
        for conf in acts.by_stem.values():
            assert conf.min() >= 0 and conf.max() <= 1 and conf.max() > 0.5
    stems = record["tracks"]["CroqueMadame_Oil"]["stems"]
    assert all("agreement" in s for s in stems.values())
    assert record["tracks"]["TemperedElan_WiseOne"]["activation"] == "generated"


def test_pitch_annotations(corpus):
    pitch = sorted((corpus / "Annotations" / "Pitch_Annotations").glob("*.csv"))
    assert pitch, "no pitch annotation written"
    for path in pitch:
        times, f0 = read_pitch(path)
        assert len(times) and (f0 > 20).all() and (f0 < 5000).all()
        steps = np.round(times * 44100 / 256, 3)
        assert np.allclose(steps, np.round(steps))
        midi = 69 + 12 * np.log2(f0 / 440)
        assert np.abs(midi - np.round(midi)).max() <= 0.451  # notes, with at most 45 cents vibrato


def test_same_seed_gives_identical_files(corpus, tmp_path):
    again = _render(tmp_path / "again")
    assert _files(again) == _files(corpus)
    other = _render(tmp_path / "other", seed=1)
    assert _files(other) != _files(corpus)


def test_parallel_render_matches_serial(corpus, tmp_path):
    out = render_corpus(tmp_path / "par", tracks=TRACKS, duration=SECONDS, n_jobs=2, progress=False)
    assert _files(out) == _files(corpus)


def test_another_soundfont_keeps_notes_gains_and_effects(corpus, tmp_path):
    bundled = synth.bundled_soundfont()
    if bundled is None or not synth.SYSTEM_SOUNDFONT.is_file():
        pytest.skip("needs both FluidR3_GM and pretty_midi's TimGM6mb.sf2")
    other = _render(tmp_path / "tim", soundfonts=[bundled])
    pitch = "Annotations/Pitch_Annotations"
    a = {k: v for k, v in _files(corpus).items() if k.startswith(pitch)}
    b = {k: v for k, v in _files(other).items() if k.startswith(pitch)}
    assert a == b and a
    rec_a = json.loads((corpus / "corpus.json").read_text())["tracks"]
    rec_b = json.loads((other / "corpus.json").read_text())["tracks"]
    for tid in TRACKS:
        for sid, stem in rec_a[tid]["stems"].items():
            other_stem = rec_b[tid]["stems"][sid]
            assert stem["gain_db"] == other_stem["gain_db"]
            assert stem["chain"] == other_stem["chain"]
            assert stem["pan"] == other_stem["pan"]
    assert json.loads((other / "corpus.json").read_text())["soundfonts"][0]["name"] == "TimGM6mb.sf2"


def test_rerun_skips_finished_songs_and_redoes_unfinished(corpus, tmp_path):
    out = _render(tmp_path / "resume")
    mix = out / "Audio" / TRACKS[0] / f"{TRACKS[0]}_MIX.wav"
    stamp = mix.stat().st_mtime_ns
    (out / ".timbral-corpus" / f"{TRACKS[1]}.json").unlink()  # as if interrupted
    _render(tmp_path / "resume")
    assert mix.stat().st_mtime_ns == stamp
    assert (out / ".timbral-corpus" / f"{TRACKS[1]}.json").is_file()
    assert _files(out) == _files(corpus)


def test_presets():
    assert {"tiny", "demo", "full"} <= set(PRESETS)
    tiny, demo = PRESETS["tiny"], PRESETS["demo"]
    known = {t.track_id for t in load_tracks(metadata_dir())}
    assert set(tiny.tracks) <= known and set(demo.tracks) <= known
    assert len({t.split("_")[0] for t in tiny.tracks}) >= 3
    assert len(demo.tracks) >= 30 and not PRESETS["full"].tracks


def test_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"not a soundfont at all")
    truncated = tmp_path / "cut.sf2"
    truncated.write_bytes(b"RIFF\x00\x10\x00\x00sfbkLIST" + b"\x00" * 64)
    cases = [
        (ConfigError, {"soundfonts": [tmp_path / "missing.sf2"]}, "SoundFont not found"),
        (ConfigError, {"soundfonts": [bad]}, "not a SoundFont"),
        (ConfigError, {"soundfonts": [truncated]}, "unreadable SoundFont"),
        (ConfigError, {"preset": "huge"}, "unknown"),
        (DatasetError, {"tracks": ["Nobody_NoSong"]}, "Nobody_NoSong"),
    ]
    for error, kwargs, words in cases:
        with pytest.raises(error) as info:
            render_corpus(tmp_path / "out", progress=False, n_jobs=1, **kwargs)
        assert words in str(info.value) and "\n" not in str(info.value)


def test_cli_errors_exit_2(tmp_path, capsys):
    listing = tmp_path / "tracks.txt"
    listing.write_text("Nobody_NoSong\n")
    assert main(["corpus", "--out", str(tmp_path / "o"), "--tracks", str(listing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("timbral: error:") and str(listing) in err and "\n" not in err
    assert main(["corpus", "--out", str(tmp_path / "o"), "--preset", "nope"]) == 2
