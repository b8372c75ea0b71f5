"""A song's musical frame: key, mode, tempo, metre, swing and chord progression, by genre."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
QUALITIES = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10), "dim": (0, 3, 6), "sus4": (0, 5, 7), "5": (0, 7),
}
# Roman numerals -> (semitones above the key, quality).
NUMERALS = {
    "I": (0, "maj"), "Imaj7": (0, "maj7"), "ii": (2, "min"), "ii7": (2, "min7"),
    "iii": (4, "min"), "IV": (5, "maj"), "IVmaj7": (5, "maj7"), "V": (7, "maj"), "V7": (7, "7"),
    "vi": (9, "min"), "vi7": (9, "min7"), "VI7": (9, "7"), "bVII": (10, "maj"), "Vsus": (7, "sus4"),
    "i": (0, "min"), "i7": (0, "min7"), "iv": (5, "min"), "iv7": (5, "min7"), "v": (7, "min"),
    "bIII": (3, "maj"), "bVI": (8, "maj"), "bVImaj7": (8, "maj7"), "iidim": (2, "dim"),
    "II7": (2, "7"),
}


@dataclass(frozen=True)
class Style:
    """Genre family defaults."""

    tempo: tuple[int, int]
    minor_p: float
    swing_p: float
    timing_ms: float  # std of humanised onset jitter
    meters: tuple[int, ...]
    kit: str  # rock, pop, jazz, electronic, folk, none
    major: tuple[tuple[str, ...], ...]
    minor: tuple[tuple[str, ...], ...]


POP_MAJOR = (("I", "V", "vi", "IV"), ("vi", "IV", "I", "V"), ("I", "vi", "IV", "V"),
             ("I", "IV", "vi", "V"))
ROCK_MAJOR = (("I", "bVII", "IV", "I"), ("I", "IV", "V", "IV"), ("I", "V", "vi", "IV"),
              ("I", "I", "IV", "bVII"))
MINOR_LOOPS = (("i", "bVI", "bIII", "bVII"), ("i", "iv", "v", "i"), ("i", "bVII", "bVI", "bVII"),
               ("i", "bVI", "iv", "V"))
STYLES = {
    "rock": Style((95, 150), 0.35, 0.05, 10, (4,), "rock", ROCK_MAJOR, MINOR_LOOPS),
    "pop": Style((80, 128), 0.3, 0.05, 8, (4,), "pop", POP_MAJOR, MINOR_LOOPS),
    "jazz": Style((90, 190), 0.25, 0.85, 14, (4, 4, 3), "jazz",
                  (("ii7", "V7", "Imaj7", "VI7"), ("Imaj7", "vi7", "ii7", "V7"),
                   ("IVmaj7", "iii", "ii7", "V7")),
                  (("iidim", "V7", "i7", "i7"), ("i7", "iv7", "bVImaj7", "V7"))),
    "classical": Style((60, 132), 0.4, 0.0, 22, (4, 3, 4), "none",
                       (("I", "IV", "V", "I"), ("I", "vi", "ii", "V"), ("I", "V", "vi", "iii", "IV", "I", "IV", "V")),
                       (("i", "iv", "V", "i"), ("i", "bVI", "iv", "V"), ("i", "iidim", "V", "i"))),
    "folk": Style((70, 135), 0.3, 0.15, 14, (4, 4, 3), "folk",
                  (("I", "IV", "I", "V"), ("I", "V", "IV", "I"), ("I", "vi", "IV", "V")), MINOR_LOOPS),
    "electronic": Style((100, 140), 0.55, 0.05, 0, (4,), "electronic", POP_MAJOR, MINOR_LOOPS),
    "rap": Style((80, 100), 0.7, 0.3, 4, (4,), "electronic", POP_MAJOR,
                 (("i", "i", "bVI", "V"), ("i", "bVII", "bVI", "bVII"), ("i", "iv", "i", "V"))),
}
GENRE_STYLE = {
    "Rock": "rock", "Pop": "pop", "Jazz": "jazz", "Classical": "classical",
    "World/Folk": "folk", "Singer/Songwriter": "folk", "Electronic/Fusion": "electronic",
    "Musical Theatre": "pop", "Rap": "rap",
}


@dataclass(frozen=True)
class Chord:
    root: int  # MIDI pitch class of the root, 0-11
    intervals: tuple[int, ...]

    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in self.intervals)


@dataclass(frozen=True)
class SongPlan:
    """Everything the parts of one song share."""

    style: str
    key: int
    minor: bool
    tempo: float
    meter: int
    swing: float  # 0 (straight) .. 1 (triplet swing) on off-beat eighths
    timing_ms: float
    chords: tuple[Chord, ...]  # one per bar, cycled
    bars: int
    offset: float  # seconds before the first downbeat (phase of the excerpt)

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def bar(self) -> float:
        return self.meter * self.beat

    @property
    def scale(self) -> tuple[int, ...]:
        return tuple((self.key + s) % 12 for s in (MINOR if self.minor else MAJOR))

    def chord_at(self, beat: float) -> Chord:
        return self.chords[int(beat // self.meter) % len(self.chords)]

    def time_of(self, beat: float) -> float:
        """Seconds of a beat position, with swing on off-beat eighths."""
        whole, frac = divmod(beat, 1.0)
        if self.swing and abs(frac - 0.5) < 1e-6:
            frac = 0.5 + self.swing / 6.0  # 0.5 -> 2/3 at full swing
        return self.offset + (whole + frac) * self.beat


def style_of(genre: str) -> str:
    return GENRE_STYLE.get(genre, "pop")


def make_plan(rng: np.random.Generator, genre: str, duration: float) -> SongPlan:
    """Draw a key, tempo and chord progression suited to `genre` for `duration` seconds."""
    name = style_of(genre)
    st = STYLES[name]
    minor = bool(rng.random() < st.minor_p)
    loops = st.minor if minor else st.major
    numerals = loops[int(rng.integers(len(loops)))]
    key = int(rng.integers(12))
    tempo = float(rng.integers(st.tempo[0], st.tempo[1] + 1))
    meter = int(st.meters[int(rng.integers(len(st.meters)))])
    swing = float(rng.uniform(0.6, 1.0)) if rng.random() < st.swing_p else 0.0
    if rng.random() < 0.3:  # some songs change chord every two bars
        numerals = tuple(n for n in numerals for _ in range(2))
    chords = tuple(
        Chord((key + NUMERALS[n][0]) % 12, QUALITIES[NUMERALS[n][1]]) for n in numerals
    )
    beat = 60.0 / tempo
    offset = -float(rng.uniform(0, meter * beat))
    bars = int(np.ceil((duration - offset) / (meter * beat))) + 1
    return SongPlan(name, key, minor, tempo, meter, swing, st.timing_ms, chords, bars, offset)
