"""Sound sources: SoundFont rendering (tinysoundfont) and speech (espeak-ng, tonal fallback)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from timbral.errors import ConfigError

SR = 44100
SYSTEM_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DRUM_CHANNEL = 9
_LOADED: dict[str, object] = {}


def bundled_soundfont() -> Path | None:
    """The small General MIDI SoundFont shipped by `pretty_midi`, if installed."""
    try:
        import pretty_midi
    except ImportError:
        return None
    path = Path(os.path.dirname(pretty_midi.__file__)) / "TimGM6mb.sf2"
    return path if path.is_file() else None


def default_soundfonts() -> list[Path]:
    """FluidR3_GM when the system has it, else the SoundFont bundled with pretty_midi."""
    if SYSTEM_SOUNDFONT.is_file():
        return [SYSTEM_SOUNDFONT]
    bundled = bundled_soundfont()
    if bundled is None:
        raise ConfigError(
            f"{SYSTEM_SOUNDFONT}: no SoundFont found (install Debian fluid-soundfont-gm, "
            "or pretty_midi, or pass --soundfont PATH)"
        )
    return [bundled]


@dataclass(frozen=True)
class SoundFontRef:
    """A checked SoundFont: where it is and what it is (name + content hash)."""

    path: str
    name: str
    sha256: str

    def to_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "path": self.path}


def _tsf():
    try:
        from tinysoundfont import _tinysoundfont
    except ImportError:
        raise ConfigError(
            "tinysoundfont is not installed: run `pip install --no-deps tinysoundfont`"
        ) from None
    return _tinysoundfont


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def check_soundfont(path: str | Path) -> SoundFontRef:
    """Check that `path` is a loadable SoundFont; ConfigError with a one-line reason if not."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: SoundFont not found")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read SoundFont ({exc.strerror})") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ConfigError(f"{path}: not a SoundFont (.sf2/.sf3 RIFF sfbk) file")
    try:
        load_soundfont(path)
    except Exception as exc:  # the binding raises plain exceptions on malformed files
        raise ConfigError(f"{path}: unreadable SoundFont ({exc})") from None
    return SoundFontRef(str(path.resolve()), path.name, _digest(path))


def load_soundfont(path: str | Path):
    """The process-wide loaded SoundFont for `path` (loaded once per worker)."""
    key = str(Path(path).resolve())
    if key not in _LOADED:
        tsf = _tsf()
        font = tsf.SoundFont(key)
        font.set_output(tsf.OutputMode.StereoInterleaved, SR, 0.0)
        font.set_max_voices(96)
        _LOADED[key] = font
    return _LOADED[key]


def has_preset(path: str | Path, bank: int, program: int) -> bool:
    return load_soundfont(path).get_preset_index(bank, program) >= 0


def pick_program(path: str | Path, variants: tuple[tuple[int, int], ...], draw: int) -> tuple[int, int]:
    """The drawn variant when the SoundFont has it, else the first it has, else bank 0."""
    order = [variants[draw % len(variants)], *variants]
    for bank, program in order:
        if has_preset(path, bank, program):
            return bank, program
    for _bank, program in order:
        if has_preset(path, 0, program):
            return 0, program
    return 0, 0


def pick_kit(path: str | Path, kits: tuple[int, ...], draw: int) -> int:
    for kit in [kits[draw % len(kits)], *kits, 0]:
        if has_preset(path, 128, kit):
            return kit
    return 0


def render_notes(path: str | Path, bank: int, program: int, drum: bool, notes: list,
                 n_samples: int, bends: list[tuple[float, float]] | None = None) -> np.ndarray:
    """Play `notes` (start/dur seconds, key, vel) on one channel; mono float32 of n_samples.

    `bends` are (seconds, cents) pitch-wheel settings (range +-2 semitones).
    """
    font = load_soundfont(path)
    _silence(font)
    chan = DRUM_CHANNEL if drum else 0
    font.channel_set_bank(chan, 0 if drum else bank)
    font.channel_set_preset_number(chan, program, drum)
    events = []
    for n in notes:
        on = int(round(n.start * SR))
        off = int(round((n.start + n.dur) * SR))
        if on >= n_samples or not 0 <= n.key <= 127:
            continue
        events.append((on, 1, n.key, n.vel))
        events.append((max(off, on + 1), 0, n.key, 0))
    for at, cents in bends or ():
        wheel = int(np.clip(round(8192 + cents / 200.0 * 8192), 0, 16383))
        events.append((int(round(at * SR)), 2, wheel, 0))
    events.sort()
    out = np.zeros((n_samples, 2), dtype=np.float32)
    pos = 0
    for at, kind, key, vel in events:
        at = min(at, n_samples)
        if at > pos:
            font.render(memoryview(out[pos:at]).cast("B"), False)
            pos = at
        if kind == 1:
            font.channel_note_on(chan, key, vel / 127.0)
        elif kind == 2:
            font.channel_set_pitch_wheel(chan, key)
        else:
            font.channel_note_off(chan, key)
    if pos < n_samples:
        font.render(memoryview(out[pos:]).cast("B"), False)
    _silence(font)
    return out.mean(axis=1)


def _silence(font) -> None:
    """Stop every voice and let the quick releases finish, so the next part starts clean."""
    font.reset()
    scratch = np.zeros((4096, 2), dtype=np.float32)
    font.render(memoryview(scratch).cast("B"), False)


# ----------------------------------------------------------------------------- speech
WORDS = (
    "the river light night city road home heart time we you they run walk stay go "
    "never always tonight tomorrow under over through window morning fire rain stone "
    "gold silver open close falling rising dream money street corner back again every "
    "little big young old hand eye voice sound shadow summer winter "
    "take make hold keep leave find tell know feel see"
).split()


def espeak_path() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def sentence(rng: np.random.Generator, words: int) -> str:
    return " ".join(str(w) for w in rng.choice(WORDS, size=words))


def speak(text: str, voice: str, rate: int, pitch: int, amplitude: int = 120) -> np.ndarray | None:
    """Speech synthesis with espeak-ng at 44.1 kHz mono, or None when espeak is unavailable."""
    exe = espeak_path()
    if exe is None:
        return None
    cmd = [exe, "-v", f"en-us+{voice}", "-s", str(rate), "-p", str(pitch), "-a", str(amplitude),
           "--stdout", text]
    try:
        result = subprocess.run(cmd, capture_output=True, check=True, timeout=60)
        y, sr = sf.read(io.BytesIO(result.stdout), dtype="float32")
    except (OSError, subprocess.SubprocessError, RuntimeError, sf.LibsndfileError):
        return None
    if y.ndim == 2:
        y = y.mean(axis=1)
    return soxr.resample(y, sr, SR).astype(np.float32) if sr != SR else y


def tonal_speech(rng: np.random.Generator, seconds: float, f0: float) -> np.ndarray:
    """A speech-like fallback: voiced syllables (glottal buzz through two vowel formants)."""
    import scipy.signal

    n = int(seconds * SR)
    out = np.zeros(n, dtype=np.float32)
    pos = 0
    vowels = ((730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720))
    while pos < n:
        length = int(rng.uniform(0.12, 0.3) * SR)
        t = np.arange(length) / SR
        pitch = f0 * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 3) * t + rng.uniform(0, 6)))
        phase = np.cumsum(pitch / SR)
        buzz = (phase % 1.0) * 2 - 1
        f1, f2 = vowels[int(rng.integers(len(vowels)))]
        y = np.zeros(length)
        for fc in (f1, f2):
            b, a = scipy.signal.iirpeak(fc, 5, fs=SR)
            y += scipy.signal.lfilter(b, a, buzz)
        y *= np.hanning(length)
        end = min(n, pos + length)
        out[pos:end] += y[: end - pos].astype(np.float32)
        pos = end + int(rng.uniform(0.02, 0.12) * SR)
    return out
