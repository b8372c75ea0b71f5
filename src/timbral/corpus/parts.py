"""Notes for one stem: a part that suits the instrument's role, on the song's plan.

Every generator works in beats and returns `Note`s in seconds after humanising timing and
velocity. Drum notes carry the kit piece in `tag` so each piece can be rendered alone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from timbral.corpus.plan import MAJOR, MINOR, SongPlan
from timbral.corpus.sounds import DRUM_PIECES, Sound

PIECE_KEYS = {
    "kick": (36, 35), "snare": (38, 40, 37), "hats": (42, 46, 44),
    "toms": (50, 48, 47, 45, 43, 41), "cymbals": (49, 57, 51, 53, 55),
}


class Note(NamedTuple):
    start: float  # seconds
    dur: float  # seconds
    key: int  # MIDI key
    vel: int  # 1-127
    tag: str = ""  # drum piece, or "" for pitched parts


class BeatNote(NamedTuple):
    beat: float
    length: float
    key: int
    vel: float
    tag: str = ""


def _clip_key(key: int, lo: int, hi: int) -> int:
    while key < lo:
        key += 12
    while key > hi:
        key -= 12
    return key


def _near(pc: int, target: int) -> int:
    """The MIDI key of pitch class `pc` closest to `target`."""
    return target + ((pc - target + 6) % 12) - 6


def humanize(plan: SongPlan, rng: np.random.Generator, notes: list[BeatNote], duration: float,
             timing_ms: float | None = None, vel_sd: float = 7.0) -> list[Note]:
    """Beats -> seconds with swing, onset jitter and velocity jitter; clip to [0, duration)."""
    sd = (plan.timing_ms if timing_ms is None else timing_ms) / 1000.0
    out = []
    for n in notes:
        start = plan.time_of(n.beat)
        end = plan.time_of(n.beat + n.length)
        if sd:
            start += float(rng.normal(0, sd))
        vel = int(np.clip(round(n.vel + rng.normal(0, vel_sd)), 1, 127))
        if 0 <= start < duration and end > start:
            out.append(Note(start, min(end, duration + 0.5) - start, int(n.key), vel, n.tag))
    out.sort(key=lambda x: (x.start, x.key))
    return out


# ----------------------------------------------------------------------------- drums
KIT_PATTERNS = {
    # piece -> list of (beat within a 4/4 bar, velocity)
    "rock": [
        {"kick": [(0, 110), (2, 105)], "snare": [(1, 105), (3, 108)], "hats": "8"},
        {"kick": [(0, 110), (1.5, 95), (2, 105)], "snare": [(1, 105), (3, 108)], "hats": "8"},
        {"kick": [(0, 110), (0.5, 90), (2, 105), (2.5, 90)], "snare": [(1, 110), (3, 110)], "hats": "8"},
        {"kick": [(0, 110)], "snare": [(2, 110)], "hats": "8", "cymbals": "ride"},
    ],
    "pop": [
        {"kick": [(0, 105), (2, 100)], "snare": [(1, 100), (3, 100)], "hats": "16"},
        {"kick": [(0, 105), (1.5, 90), (2.5, 95)], "snare": [(1, 100), (3, 100)], "hats": "8"},
        {"kick": [(0, 105), (2, 100), (3.5, 85)], "snare": [(1, 95), (3, 100)], "hats": "8",
         "cymbals": "ride"},
    ],
    "jazz": [
        {"kick": [(0, 45), (2, 45)], "snare": "comp", "hats": [(1, 70), (3, 70)], "cymbals": "swing"},
        {"kick": [(0, 50)], "snare": "comp", "hats": [(1, 75), (3, 75)], "cymbals": "swing"},
    ],
    "electronic": [
        {"kick": [(0, 115), (1, 115), (2, 115), (3, 115)], "snare": [(1, 100), (3, 100)], "hats": "off"},
        {"kick": [(0, 115), (0.75, 100), (2.5, 110)], "snare": [(2, 110)], "hats": "16"},
        {"kick": [(0, 115), (2, 110)], "snare": [(1, 100), (3, 100)], "hats": "8", "cymbals": "ride"},
    ],
    "folk": [
        {"kick": [(0, 90), (2, 85)], "snare": [(1, 80), (3, 85)], "hats": "4"},
        {"kick": [(0, 90), (2.5, 80)], "snare": [(1, 80), (3, 80)], "hats": "8", "cymbals": "ride"},
    ],
}
KIT_STYLE = {"rock": "rock", "pop": "pop", "jazz": "jazz", "electronic": "electronic",
             "rap": "electronic", "folk": "folk", "classical": "folk"}


def _grid(spec: str, meter: int, base: float) -> list[tuple[float, float]]:
    if spec == "4":
        return [(b, base) for b in range(meter)]
    if spec == "8":
        return [(b / 2, base if b % 2 == 0 else base * 0.75) for b in range(meter * 2)]
    if spec == "16":
        return [(b / 4, base if b % 4 == 0 else base * (0.8 if b % 2 == 0 else 0.6))
                for b in range(meter * 4)]
    if spec == "off":
        return [(b + 0.5, base) for b in range(meter)]
    return []


def drum_part(plan: SongPlan, rng: np.random.Generator, duration: float,
              machine: bool = False) -> list[Note]:
    """A kit part: a groove drawn for the style, fills into every 4th bar, crashes after fills."""
    style = "electronic" if machine else KIT_STYLE.get(plan.style, "pop")
    groove = KIT_PATTERNS[style][int(rng.integers(len(KIT_PATTERNS[style])))]
    keys = {p: PIECE_KEYS[p][0] for p in DRUM_PIECES}
    keys["kick"] = int(rng.choice(PIECE_KEYS["kick"][:2]))
    keys["snare"] = 37 if (style == "folk" and rng.random() < 0.4) else int(rng.choice((38, 40)))
    ride_key = int(rng.choice((51, 59))) if rng.random() < 0.5 else 51
    meter = plan.meter
    fill_every = int(rng.choice((4, 8))) if not machine else 8
    fill_every = min(fill_every, max(2, plan.bars - 1))  # short excerpts still get a fill
    out: list[BeatNote] = []
    for bar in range(plan.bars):
        b0 = bar * meter
        fill = (bar % fill_every) == fill_every - 1
        for piece, spec in groove.items():
            if isinstance(spec, list):
                hits = [(b if meter == 4 else b * meter / 4, v) for b, v in spec]
            elif spec == "comp":
                hits = [(float(b) / 2, 60.0) for b in range(meter * 2) if rng.random() < 0.25]
            elif spec == "swing":
                hits = [(b + s, 85.0 - 15 * s) for b in range(meter) for s in ((0, 0.5) if b % 2 else (0,))]
            elif spec == "ride":
                hits = _grid("8" if plan.tempo < 130 else "4", meter, 80.0)
            else:
                hits = _grid(spec, meter, 80.0)
            for b, v in hits:
                if fill and b >= meter / 2 and piece in ("snare", "hats"):
                    continue
                key = keys[piece]
                if piece == "cymbals":
                    key = ride_key
                elif piece == "hats" and spec == "8" and b == meter - 0.5 and rng.random() < 0.3:
                    key = 46
                out.append(BeatNote(b0 + b, 0.25, key, v))
        if fill:
            toms = PIECE_KEYS["toms"]
            step = 0.25 if plan.tempo < 140 else 0.5
            n = int(meter / 2 / step)
            for i in range(n):
                k = toms[min(len(toms) - 1, int(i * len(toms) / n))]
                out.append(BeatNote(b0 + meter / 2 + i * step, step, k, 85 + 20 * i / n))
        if bar % fill_every == 0 or bar == 1:  # crash into each section
            out.append(BeatNote(b0, 2.0, int(rng.choice((49, 57))), 105))
    notes = [n._replace(tag=_piece_of(n.key)) for n in out]
    return humanize(plan, rng, notes, duration, timing_ms=0.0 if machine else None, vel_sd=6)


def _piece_of(key: int) -> str:
    for piece, keys in PIECE_KEYS.items():
        if key in keys:
            return piece
    return "cymbals"


def percussion_part(plan: SongPlan, rng: np.random.Generator, duration: float,
                    keys: tuple[int, ...]) -> list[Note]:
    """Hand percussion: 1-3 of the label's strokes on a repeating, accented one- or two-bar cell."""
    chosen = list(rng.choice(keys, size=min(len(keys), int(rng.integers(1, 4))), replace=False))
    meter = plan.meter
    cells = []
    for _ in chosen:
        step = float(rng.choice((0.25, 0.5, 0.5, 1.0)))
        n = int(round(meter * 2 / step))
        p = float(rng.uniform(0.35, 0.9))
        mask = rng.random(n) < p
        every = max(1, int(round(1.0 / step)))  # at least one stroke per beat: no long gaps
        mask[::every] |= rng.random(len(mask[::every])) < 0.8
        mask[0] = True
        cells.append((step, mask, rng.uniform(0.5, 1.0, n)))
    out = []
    for bar in range(0, plan.bars, 2):
        for key, (step, mask, accents) in zip(chosen, cells, strict=True):
            for i in np.flatnonzero(mask):
                out.append(BeatNote(bar * meter + i * step, step, int(key), 50 + 60 * float(accents[i])))
    return humanize(plan, rng, out, duration)


# ----------------------------------------------------------------------------- pitched
def _chord_keys(plan: SongPlan, beat: float, center: int, lo: int, hi: int, n: int) -> list[int]:
    pcs = plan.chord_at(beat).pitch_classes()
    keys = []
    k = _near(pcs[0], center - 5)
    i = 0
    while len(keys) < n and i < 24:
        cand = _near(pcs[i % len(pcs)], k)
        while cand < (keys[-1] + 1 if keys else lo):
            cand += 12
        if cand <= hi:
            keys.append(cand)
        k = cand + 2
        i += 1
    return keys or [_clip_key(_near(pcs[0], center), lo, hi)]


def bass_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int,
              style: str = "") -> list[Note]:
    """Bass line on the chord roots: steady, syncopated, walking or sustained."""
    meter = plan.meter
    if not style:
        style = {"jazz": "walk", "classical": "long", "electronic": "off"}.get(plan.style, "")
        style = style or str(rng.choice(("quarter", "eighth", "sync")))
    rhythms = {
        "quarter": [(b, 1.0) for b in range(meter)],
        "eighth": [(b / 2, 0.5) for b in range(meter * 2)],
        "sync": [(0, 1.5), (1.5, 0.5), (2, 1.0), (3, 0.5), (3.5, 0.5)][: meter + 1],
        "long": [(0, float(meter))],
        "off": [(b + 0.5, 0.5) for b in range(meter)] + [(0, 0.5)],
        "walk": [(b, 1.0) for b in range(meter)],
    }
    rhythm = rhythms.get(style, rhythms["quarter"])
    legato = float(rng.uniform(0.55, 0.95))
    base = _clip_key(plan.key + lo - lo % 12, lo, lo + 11)
    out = []
    for bar in range(plan.bars):
        b0 = bar * meter
        chord = plan.chord_at(b0)
        root = _clip_key(_near(chord.root, base), lo, min(hi, lo + 16))
        nxt = _clip_key(_near(plan.chord_at(b0 + meter).root, root), lo, hi)
        for i, (b, length) in enumerate(rhythm):
            key = root
            if style == "walk" and i > 0:
                if i == len(rhythm) - 1:
                    key = nxt + int(rng.choice((-1, 1)))
                else:
                    key = _near(int(rng.choice(chord.pitch_classes())), root + 5)
            elif i > 0 and rng.random() < 0.2:
                key = root + int(rng.choice((7, 12)))
            out.append(BeatNote(b0 + b, length * legato, _clip_key(key, lo, hi), 90 + 10 * (b == 0)))
    return humanize(plan, rng, out, duration)


def comp_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int,
              style: str = "") -> list[Note]:
    """Chords: block chords, strums, power chords or off-beat stabs."""
    meter = plan.meter
    style = style or str(rng.choice(("block", "strum", "stab", "arp")))
    if style == "arp":
        return arp_part(plan, rng, duration, lo, hi)
    patterns = {
        "block": [[(0, meter)], [(0, 2), (2, 2)], [(0, 1.5), (1.5, 1), (2.5, 1.5)]],
        "keys": [[(0, meter)], [(0, 2), (2, 2)], [(b, 1) for b in range(meter)],
                 [(0, 1.5), (1.5, 1), (2.5, 1.5)]],
        "strum": [[(b / 2, 0.5) for b in range(meter * 2)], [(0, 1), (1, 0.5), (1.5, 1), (2.5, 0.5), (3, 1)]],
        "stab": [[(b + 0.5, 0.4) for b in range(meter)], [(0, 0.5), (1.5, 0.5), (3, 0.5)]],
        "power": [[(b / 2, 0.45) for b in range(meter * 2)], [(0, meter)], [(0, 1.5), (1.5, 2.5)]],
    }
    pattern = patterns.get(style, patterns["block"])
    rhythm = pattern[int(rng.integers(len(pattern)))]
    center = int(rng.integers(lo + 12, max(lo + 13, hi - 6)))
    voices = int(rng.integers(3, 5))
    spread = 0.012 if style == "strum" else 0.0
    legato = float(rng.uniform(0.7, 0.98))
    out = []
    for bar in range(plan.bars):
        b0 = bar * meter
        for i, (b, length) in enumerate(rhythm):
            if b >= meter:
                continue
            if style == "power":
                root = _clip_key(_near(plan.chord_at(b0 + b).root, center - 7), lo, hi - 12)
                keys = [root, root + 7, root + 12]
            else:
                keys = _chord_keys(plan, b0 + b, center, lo, hi, voices)
            vel = 85 if (b == 0) else 70
            up = style == "strum" and i % 2 == 1
            order = keys[::-1] if up else keys
            for j, k in enumerate(order):
                out.append(BeatNote(b0 + b + j * spread / plan.beat, length * legato, k, vel - 8 * up))
    return humanize(plan, rng, out, duration)


def arp_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int) -> list[Note]:
    """Arpeggios of chord tones over one or two octaves (harps, plucked strings, mallets)."""
    meter = plan.meter
    step = float(rng.choice((0.5, 0.25, 1 / 3))) if plan.tempo < 140 else 0.5
    shape = str(rng.choice(("up", "down", "updown", "random")))
    center = int(rng.integers(lo + 7, max(lo + 8, hi - 7)))
    ring = float(rng.uniform(1.0, 3.0))
    out = []
    for bar in range(plan.bars):
        b0 = bar * meter
        keys = _chord_keys(plan, b0, center, lo, hi, 6)
        seq = {"up": keys, "down": keys[::-1], "updown": keys + keys[-2:0:-1]}.get(shape, keys)
        n = int(round(meter / step))
        for i in range(n):
            k = seq[i % len(seq)] if shape != "random" else int(rng.choice(keys))
            out.append(BeatNote(b0 + i * step, step * ring, k, 80 - 15 * (i % 2)))
    return humanize(plan, rng, out, duration)


def pad_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int,
             voices: int | None = None) -> list[Note]:
    """Sustained chords, one per bar (organs, pads, string sections)."""
    meter = plan.meter
    voices = voices or int(rng.integers(3, 5))
    center = int(rng.integers(lo + 10, max(lo + 11, hi - 5)))
    half = rng.random() < 0.3
    out = []
    for bar in range(plan.bars):
        b0 = bar * meter
        for b, length in ([(0, meter / 2), (meter / 2, meter / 2)] if half else [(0, meter)]):
            for k in _chord_keys(plan, b0 + b, center, lo, hi, voices):
                out.append(BeatNote(b0 + b, length * 1.02, k, 75))
    return humanize(plan, rng, out, duration, vel_sd=4)


RHYTHM_CELLS = {
    "sparse": [(2.0, 2.0), (3.0, 1.0), (1.5, 0.5, 2.0), (4.0,)],
    "medium": [(1.0, 1.0, 1.0, 1.0), (1.5, 0.5, 1.0, 1.0), (0.5, 0.5, 1.0, 2.0), (1.0, 0.5, 0.5, 2.0),
               (2.0, 1.0, 1.0)],
    "busy": [(0.5,) * 8, (0.25, 0.25, 0.5, 0.5, 0.5, 1.0, 1.0), (0.5, 0.5, 0.5, 0.5, 1.0, 1.0),
             (0.75, 0.25, 0.5, 0.5, 1.0, 1.0)],
}


def _degree_key(plan: SongPlan, degree: int) -> int:
    """MIDI key of an absolute scale degree (degree 0 = the tonic of octave -1)."""
    octave, d = divmod(degree, 7)
    return plan.key + 12 * octave + (MINOR if plan.minor else MAJOR)[d]


def _key_degree(plan: SongPlan, key: int) -> int:
    """The scale degree whose key is closest to `key` (at or below it on ties)."""
    guess = (key - plan.key) * 7 // 12
    return min(range(guess - 2, guess + 3), key=lambda d: (abs(_degree_key(plan, d) - key), d))


def melody_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int,
                density: str | None = None) -> list[Note]:
    """A monophonic line: two-bar phrases (AABA), stepwise motion, chord tones on strong beats."""
    meter = plan.meter
    density = density or str(rng.choice(("sparse", "medium", "medium", "busy")))
    cells = RHYTHM_CELLS[density]
    legato = float(rng.uniform(0.75, 0.98))
    lo_c, hi_c = lo + 2, max(lo + 9, hi - 2)
    motifs = []
    for _ in range(2):  # A and B
        motif = []
        for bar in range(2):
            pos = 0.0
            for length in cells[int(rng.integers(len(cells)))]:
                if pos >= meter:
                    break
                motif.append((bar * meter + pos, min(length, meter - pos)))
                pos += length
        motifs.append(motif)
    degree = _key_degree(plan, int(rng.integers(lo_c, hi_c + 1)))
    out = []
    for phrase, bar in enumerate(range(0, plan.bars, 2)):
        motif = motifs[1 if phrase % 4 == 2 else 0]
        for j, (b, length) in enumerate(motif):
            beat = bar * meter + b
            degree += int(rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3)))
            key = _degree_key(plan, degree)
            if b % 2 == 0:  # strong beat: land on a chord tone
                key = _near(int(rng.choice(plan.chord_at(beat).pitch_classes())), key)
            while key > hi_c:
                key -= 12
            while key < lo_c:
                key += 12
            degree = _key_degree(plan, key)
            rest = j == len(motif) - 1 and rng.random() < 0.35
            out.append(BeatNote(beat, length * (0.5 if rest else legato), key, 88 if b % 2 == 0 else 74))
    return humanize(plan, rng, out, duration)


def section_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int) -> list[Note]:
    """An ensemble of one family: sustained chords, rhythmic stabs, or a melody in thirds."""
    kind = str(rng.choice(("pad", "stab", "thirds")))
    if kind == "pad":
        return pad_part(plan, rng, duration, lo, hi)
    if kind == "stab":
        return comp_part(plan, rng, duration, lo, hi, style="block")
    lead = melody_part(plan, rng, duration, lo + 4, hi, density="medium")
    harmony = []
    for n in lead:
        below = _degree_key(plan, _key_degree(plan, n.key) - 2)
        harmony.append(n._replace(key=max(lo, below), vel=max(1, n.vel - 6)))
    return sorted(lead + harmony, key=lambda x: (x.start, x.key))


def hits_part(plan: SongPlan, rng: np.random.Generator, duration: float, keys: tuple[int, ...],
              pitched: bool, lo: int, hi: int) -> list[Note]:
    """Sparse strokes at phrase starts and accents (gong, concert bass drum, chimes)."""
    meter = plan.meter
    every = int(rng.choice((1, 2)))
    out = []
    for bar in range(0, plan.bars, every):
        beats = [0.0] + ([float(meter // 2)] if rng.random() < 0.4 else [])
        for b in beats:
            if pitched:
                key = _clip_key(_near(int(rng.choice(plan.chord_at(bar * meter + b).pitch_classes())),
                                      (lo + hi) // 2), lo, hi)
            else:
                key = int(rng.choice(keys))
            out.append(BeatNote(bar * meter + b, meter * every, key, 100))
    return humanize(plan, rng, out, duration)


def timpani_part(plan: SongPlan, rng: np.random.Generator, duration: float, lo: int, hi: int) -> list[Note]:
    """Roots and fifths on downbeats, with rolls into every other bar."""
    meter = plan.meter
    out = []
    for bar in range(plan.bars):
        b0 = bar * meter
        root = _clip_key(_near(plan.chord_at(b0).root, lo + 6), lo, hi)
        out.append(BeatNote(b0, 1.0, root, 105))
        out.append(BeatNote(b0 + meter / 2, 1.0, _clip_key(root + 7, lo, hi), 85))
        if bar % 2 == 1:
            for i in range(8):
                out.append(BeatNote(b0 + meter - 1 + i / 8, 1 / 8, root, 60 + 5 * i))
    return humanize(plan, rng, out, duration)


def monophonic(notes: list[Note]) -> list[Note]:
    """Trim overlaps so at most one note sounds at a time (for pitch annotations)."""
    out: list[Note] = []
    for n in sorted(notes, key=lambda x: x.start):
        if out and out[-1].start + out[-1].dur > n.start:
            prev = out[-1]
            if n.start - prev.start < 0.02:
                continue
            out[-1] = prev._replace(dur=n.start - prev.start)
        out.append(n)
    return out


class Vibrato(NamedTuple):
    """Periodic pitch modulation of sustained notes (voices, bowed strings, winds)."""

    depth: float  # cents, peak
    rate: float  # Hz
    delay: float  # seconds after the onset before it starts

    def cents(self, t: np.ndarray, note: Note) -> np.ndarray:
        """Deviation in cents at times `t` (seconds) inside `note`."""
        since = t - note.start
        ramp = np.clip((since - self.delay) / 0.3, 0.0, 1.0)
        return self.depth * ramp * np.sin(2 * np.pi * self.rate * since)

    def bends(self, notes: list[Note], step: float = 512 / 44100) -> list[tuple[float, float]]:
        """(time, cents) pitch-wheel settings: centred at each onset, then the vibrato."""
        out = []
        for n in notes:
            out.append((n.start, 0.0))
            t = np.arange(n.start + self.delay, n.start + n.dur, step)
            out += list(zip(t.tolist(), self.cents(t, n).tolist(), strict=True))
        return out


def notes_for(sound: Sound, role: str, plan: SongPlan, rng: np.random.Generator,
              duration: float, component: str = "") -> list[Note]:
    """The notes of one stem layer for `role` (the sound's role, or a resolved synth role)."""
    lo, hi = sound.range
    if role in ("kit", "drum_machine"):
        notes = drum_part(plan, rng, duration, machine=role == "drum_machine")
        return [n for n in notes if n.tag in sound.pieces]
    if role == "percussion":
        return percussion_part(plan, rng, duration, sound.keys)
    if role == "bass":
        return monophonic(bass_part(plan, rng, duration, lo, hi, sound.style))
    if role == "comp":
        return comp_part(plan, rng, duration, lo, hi, sound.style)
    if role == "arp":
        return arp_part(plan, rng, duration, lo, hi)
    if role == "pad":
        return pad_part(plan, rng, duration, lo, hi)
    if role == "section":
        return section_part(plan, rng, duration, lo, hi)
    if role == "melody":
        return monophonic(melody_part(plan, rng, duration, lo, hi))
    if role == "hits":
        return hits_part(plan, rng, duration, sound.keys, not sound.keys, lo, hi)
    if role == "timpani":
        return timpani_part(plan, rng, duration, lo, hi)
    return pad_part(plan, rng, duration, lo, hi)
