"""Tagger on awkward inputs, all generated: sample rates, channel counts, formats, short,
silent, and files that are corrupt, truncated, empty, not audio, unreadable or missing."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from test_inference import CLASSES, make_artifact, music

from timbral import Tagger
from timbral.errors import AudioError


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    return Tagger.load(make_artifact(tmp_path_factory.mktemp("model") / "model.pt"))


@pytest.mark.parametrize("sr", [8000, 44100, 48000, 96000])
def test_any_sample_rate(tagger, tmp_path, sr):
    path = tmp_path / f"a{sr}.wav"
    sf.write(path, music(2.0, sr=sr), sr)
    r = tagger.predict(path)
    assert r.sr == sr and r.duration == pytest.approx(2.0)
    np.testing.assert_allclose(r.starts, [0.0, 0.5, 1.0])
    assert np.isfinite(r.window_probabilities).all() and (r.window_probabilities > 0).all()


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_any_channel_count(tagger, tmp_path, channels):
    y = music(1.5, channels=channels)
    path = tmp_path / f"c{channels}.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    r = tagger.predict(path)
    assert r.channels == channels
    expected = tagger.predict(y.mean(axis=1), sr=44100)  # downmixed like training
    np.testing.assert_allclose(r.window_probabilities, expected.window_probabilities, atol=1e-5)


FORMATS = [("WAV", "wav", 1e-5), ("FLAC", "flac", 1e-3), ("OGG", "ogg", 0.05)]
if "MP3" in sf.available_formats():
    FORMATS.append(("MP3", "mp3", 0.05))


@pytest.mark.parametrize("fmt,ext,tol", FORMATS, ids=[f[0] for f in FORMATS])
def test_formats(tagger, tmp_path, fmt, ext, tol):
    y = music(2.0, sr=44100)
    path = tmp_path / f"song.{ext}"
    sf.write(path, y, 44100, format=fmt, **({"subtype": "FLOAT"} if fmt == "WAV" else {}))
    r = tagger.predict(path)
    assert r.sr == 44100 and r.duration == pytest.approx(2.0, abs=0.06)
    ref = tagger.predict(y, sr=44100)
    np.testing.assert_allclose(r.probabilities, ref.probabilities, atol=tol)


def test_shorter_than_a_window_is_padded_and_flagged(tagger, tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, music(0.3), 44100)
    r = tagger.predict(path)
    d = r.to_dict()
    assert d["padded"] is True and len(d["timeline"]) == 1
    assert d["timeline"][0]["start"] == 0.0 and d["timeline"][0]["end"] == pytest.approx(0.3)
    assert any("zero-padded" in n for n in d["notes"])
    assert not tagger.predict(music(2.0), sr=44100).padded


def test_silent_file_is_flagged_with_no_instrument(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((44100 * 2, 2), dtype=np.float32), 44100)
    # threshold 0 would call every class present on any sound: silence must still be empty
    r = Tagger.load(make_artifact(tmp_path / "m.pt"), threshold=0.0001).predict(path)
    d = r.to_dict()
    assert d["silent"] is True and not any(i["present"] for i in d["instruments"])
    assert all(i["probability"] == 0.0 for i in d["instruments"])
    assert r.instruments == [] and "no instrument detected" in r.to_table()
    assert any("silent" in n and "no instrument" in n for n in d["notes"])


def _write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def _good_bytes(tmp_path, fmt, ext, seconds=4.0):
    src = tmp_path / f"src.{ext}"
    sf.write(src, music(seconds, sr=22050), 22050, format=fmt)
    return src.read_bytes()


def _corrupt(tmp_path):
    data = bytearray(_good_bytes(tmp_path, "FLAC", "flac"))
    mid = len(data) // 3
    data[mid:mid + 4000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    return _write_bytes(tmp_path / "corrupt.flac", bytes(data))


def _corrupt_header(tmp_path):
    data = bytearray(_good_bytes(tmp_path, "WAV", "wav"))
    data[20:36] = b"\xff" * 16  # fmt chunk: format tag, channels, rates
    return _write_bytes(tmp_path / "badheader.wav", bytes(data))


def _truncated(fmt, ext):
    def make(tmp_path):
        data = _good_bytes(tmp_path, fmt, ext)
        return _write_bytes(tmp_path / f"truncated.{ext}", data[: len(data) // 2])
    return make


BAD = {
    "corrupt": (_corrupt, "corrupt"),
    "corrupt-header": (_corrupt_header, ""),
    "truncated-wav": (_truncated("WAV", "wav"), "truncated"),
    "truncated-flac": (_truncated("FLAC", "flac"), ""),
    "truncated-ogg": (_truncated("OGG", "ogg"), "truncated"),
    "empty": (lambda p: _write_bytes(p / "empty.wav", b""), "empty file"),
    "no-samples": (lambda p: (sf.write(p / "nosamples.wav", np.zeros((0, 1)), 44100),
                              p / "nosamples.wav")[1], "no samples"),
    "not-audio": (lambda p: _write_bytes(p / "notes.mp3", b"these are not sounds\n" * 50),
                  "not a readable audio file"),
    "missing": (lambda p: p / "missing.wav", "file not found"),
    "directory": (lambda p: (p / "folder.wav").mkdir() or p / "folder.wav", "directory"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_raise_one_line_errors_naming_them(tagger, tmp_path, case):
    make, reason = BAD[case]
    path = make(tmp_path)
    with pytest.raises(AudioError) as info:
        tagger.predict(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg
    assert reason in msg


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tagger, tmp_path):
    path = tmp_path / "locked.wav"
    sf.write(path, music(1.0), 44100)
    path.chmod(0)
    try:
        with pytest.raises(AudioError, match="locked.wav: .*(permission|cannot open|readable)"):
            tagger.predict(path)
    finally:
        path.chmod(0o644)


def test_unreadable_file_message(tagger, tmp_path, monkeypatch):
    """The same refusal, simulated, so it is checked even where tests run as root."""
    path = tmp_path / "locked.wav"
    sf.write(path, music(1.0), 44100)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("timbral.inference.sources.open", denied, raising=False)
    with pytest.raises(AudioError, match=r"locked.wav: cannot open \(Permission denied\)"):
        tagger.predict(path)


def test_bad_files_do_not_stop_the_others(tagger, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, music(1.5), 44100)
    bad = [make(tmp_path) for make, _ in BAD.values()]
    items = [good, *bad, good]
    outs = list(tagger.predict_many(items))
    assert [type(o).__name__ for _, o in outs] == ["TagResult"] + ["AudioError"] * len(bad) + ["TagResult"]
    assert [c for c in outs[-1][1].classes] == CLASSES
