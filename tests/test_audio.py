"""Segment loading: formats, rates, channels, seeking equals whole-file decoding, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from timbral.data import audio
from timbral.data.audio import (
    audio_info,
    load_audio,
    load_segment,
    read_frames,
    scan_energy,
)
from timbral.errors import AudioError

MP3 = "MP3" in sf.available_formats()


def _signal(sr: int, seconds: float, channels: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = 0.4 * np.sin(2 * np.pi * freq * t) * np.minimum(1.0, t + 0.2)  # a slow fade-in
    return np.stack([y * (1 - 0.1 * c) for c in range(channels)], axis=1).astype(np.float32)


def _write(path: Path, y: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> Path:
    # libsndfile's Vorbis/MP3 encoders are fed in blocks (one huge write can crash them)
    with sf.SoundFile(path, "w", sr, y.shape[1], format=fmt, subtype=subtype) as f:
        for i in range(0, len(y), 4096):
            f.write(y[i : i + 4096])
    return path


def _dominant_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


CASES = [
    ("WAV", "PCM_16", 44100, 2), ("WAV", "PCM_24", 48000, 1), ("WAV", "FLOAT", 22050, 6),
    ("WAV", "PCM_16", 8000, 2), ("FLAC", "PCM_16", 44100, 2), ("FLAC", "PCM_24", 96000, 1),
    ("OGG", "VORBIS", 44100, 2), ("OGG", "VORBIS", 32000, 1),
]
if MP3:
    CASES += [("MP3", "MPEG_LAYER_III", 44100, 2), ("MP3", "MPEG_LAYER_III", 24000, 1)]


@pytest.mark.parametrize(("fmt", "subtype", "sr", "channels"), CASES)
def test_formats_rates_and_channels(tmp_path, fmt, subtype, sr, channels):
    path = _write(tmp_path / f"a.{fmt.lower()}", _signal(sr, 3.0, channels), sr, fmt, subtype)
    info = audio_info(path)
    assert (info.sr, info.channels) == (sr, channels)
    assert abs(info.duration - 3.0) < 0.1  # MP3 adds encoder padding
    y = load_segment(path, 1.0, 1.5, sr=22050)
    assert y.dtype == np.float32 and y.shape == (33075,)
    assert np.abs(y).max() == pytest.approx(1.0)  # peak-normalised
    assert _dominant_hz(y, 22050) == pytest.approx(440.0, abs=2.0)
    raw = load_segment(path, 1.0, 1.5, sr=22050, normalize=False)
    assert np.abs(raw).max() == pytest.approx(0.4 * (1 - 0.1 * (channels - 1) / 2), rel=0.05)


@pytest.mark.parametrize(("sr", "channels", "start"), [(44100, 2, 0.0), (44100, 2, 2.38),
                                                      (48000, 1, 1.0), (22050, 2, 3.0)])
def test_seeking_equals_decoding_the_whole_file(tmp_path, sr, channels, start):
    # starts lie on both sample grids, so the samples compared are at the same instants
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal((int(sr * 6), channels))).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, y, sr, subtype="FLOAT")
    ours = load_segment(path, start, 2.0, sr=22050, normalize=False)
    # the reference: decode everything, downmix, resample (librosa.load's soxr_hq), slice
    whole = soxr.resample(sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1), sr, 22050, "HQ")
    j = int(round(start * 22050))
    ref = whole[j : j + len(ours)]
    # edge samples of the whole-file resample differ slightly when the window starts at 0
    np.testing.assert_allclose(ours[: len(ref)], ref, atol=1e-5)


def test_short_file_is_zero_padded_and_tail_reads_pad(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _signal(44100, 1.0, 2), 44100)
    y = load_segment(path, 0.0, 3.0, sr=22050)
    assert y.shape == (66150,)
    assert np.abs(y[:22000]).max() == pytest.approx(1.0)
    assert np.all(y[22100:] == 0)
    past = load_segment(path, 5.0, 1.0, sr=22050, normalize=True)
    assert past.shape == (22050,) and not past.any()
    whole = load_segment(path, 0.0, None, sr=22050)
    assert len(whole) == 22050


def _bad_files(tmp: Path) -> dict[str, Path]:
    sr = 44100
    files = {}
    files["empty"] = tmp / "empty.wav"
    files["empty"].write_bytes(b"")
    files["text"] = tmp / "notes.wav"
    files["text"].write_text("this is not audio\n" * 50)
    good = tmp / "good.wav"
    sf.write(good, _signal(sr, 2.0, 2), sr, subtype="PCM_16")
    files["truncated_wav"] = tmp / "trunc.wav"
    files["truncated_wav"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    flac = _write(tmp / "good.flac", _signal(sr, 2.0, 2), sr, "FLAC")
    files["truncated_flac"] = tmp / "trunc.flac"
    files["truncated_flac"].write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    files["header_only"] = tmp / "header.wav"
    files["header_only"].write_bytes(good.read_bytes()[:20])
    files["no_samples"] = tmp / "nosamples.wav"
    sf.write(files["no_samples"], np.zeros((0, 2), dtype=np.float32), sr)
    files["missing"] = tmp / "missing.wav"
    if MP3:
        mp3 = _write(tmp / "good.mp3", _signal(sr, 3.0, 1), sr, "MP3")
        files["truncated_mp3"] = tmp / "trunc.mp3"
        files["truncated_mp3"].write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    return files


def test_bad_files_raise_one_line_audio_errors(tmp_path):
    expected = {
        "empty": "empty file", "text": "not a readable audio file",
        "truncated_wav": "truncated", "truncated_flac": "", "header_only": "",
        "no_samples": "empty audio file", "missing": "file not found", "truncated_mp3": "truncated",
    }
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(AudioError) as err:
            audio_info(path)
            load_segment(path, 0.0, 2.0)
            load_segment(path, 1.5, 1.0)  # past the cut for truncated files
        msg = str(err.value)
        assert "\n" not in msg and str(path) in msg, (name, msg)
        assert expected[name] in msg, (name, msg)


def test_read_frames_reports_short_reads(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _signal(8000, 1.0, 1), 8000)
    y, sr = read_frames(path, 4000, 100000)
    assert (len(y), sr) == (4000, 8000)
    assert len(read_frames(path, 9000, 10)[0]) == 0


def test_load_audio_is_the_whole_mono_signal(tmp_path):
    path = tmp_path / "a.flac"
    x = _signal(16000, 2.0, 2)
    _write(path, x, 16000, "FLAC")
    y, sr = load_audio(path)
    assert sr == 16000 and len(y) == len(x)
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-4)


@pytest.mark.parametrize("mode", ["auto", "full", "probe"])
@pytest.mark.parametrize(("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "FLOAT"),
                                               ("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_scan_energy_locates_the_loud_part(tmp_path, fmt, subtype, mode):
    sr = 16000
    t = np.arange(sr * 30) / sr
    level = np.where((t >= 12) & (t < 20), 0.5, 0.02)
    y = (level * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    path = _write(tmp_path / f"a.{fmt.lower()}", np.stack([y, y], axis=1), sr, fmt, subtype)
    scan = scan_energy(path, mode=mode)
    assert scan.exact == (mode == "full" or (mode == "auto" and fmt == "FLAC"))
    assert scan.hop_s == pytest.approx(0.1 if scan.exact else 1.0)
    assert len(scan.rms) == pytest.approx(30 / scan.hop_s, abs=1)
    loud = np.flatnonzero(scan.rms > 0.2) * scan.hop_s
    assert loud.min() == pytest.approx(12.0, abs=scan.hop_s + 0.01)
    assert loud.max() == pytest.approx(20.0 - scan.hop_s, abs=scan.hop_s + 0.01)
    inside = scan.rms[int(14 / scan.hop_s)]
    assert inside == pytest.approx(0.5 / np.sqrt(2), rel=0.05)  # RMS of a sine
    assert scan.peak.max() == pytest.approx(0.5, rel=0.05)


def test_scan_energy_rejects_unknown_mode(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, _signal(8000, 1.0, 1), 8000)
    with pytest.raises(ValueError, match="mode"):
        scan_energy(path, mode="fast")


@pytest.mark.parametrize(("subtype", "channels", "fast"), [
    ("PCM_16", 2, True), ("FLOAT", 1, True), ("PCM_16", 6, True), ("PCM_24", 2, False),
])
def test_probed_scan_reads_wav_bytes_like_the_decoder(tmp_path, monkeypatch, subtype, channels,
                                                      fast):
    rng = np.random.default_rng(1)
    y = (0.3 * rng.standard_normal((int(8000 * 9.5), channels))).astype(np.float32)
    y[: 8000 * 3] *= 0.1
    path = tmp_path / "a.wav"
    sf.write(path, y, 8000, subtype=subtype)
    info = audio_info(path)
    assert (audio.wav_layout(path, info) is not None) == fast
    plain = scan_energy(path, mode="probe")
    monkeypatch.setattr(audio, "wav_layout", lambda *a: None)  # force the decoder's reads
    decoded = scan_energy(path, mode="probe")
    assert len(plain.rms) == 10  # a probe every second, the last one partial
    np.testing.assert_allclose(plain.rms, decoded.rms, rtol=1e-6)
    np.testing.assert_allclose(plain.peak, decoded.peak, rtol=1e-6)
    assert plain.rms[0] < 0.2 * plain.rms[5]
