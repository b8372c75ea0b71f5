"""Render one MedleyDB track: choose the excerpt and stems, write notes for each stem, play them
on SoundFonts, process, gate, level and mix them, and write every file of the song."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from timbral.corpus import activity, effects, speech, synth, textures, writer
from timbral.corpus.parts import PIECE_KEYS, Note, Vibrato, notes_for
from timbral.corpus.plan import SongPlan, make_plan
from timbral.corpus.sounds import DRUM_PIECES, Sound, sound_for
from timbral.data.medleydb import Activations, Stem, Track

SR = 44100
SKIP_LABELS = frozenset({"Unlabeled", "crowd"})  # no instrument: not rendered
REF_RMS = 0.1  # level of the dry signal going into the effects (-20 dBFS)
MIX_PEAK = 0.891  # -1 dBFS
PIECE_OF_LABEL = {"kick drum": "kick", "snare drum": "snare", "high hat": "hats", "toms": "toms",
                  "cymbal": "cymbals"}
PITCHED_MONO = {"melody", "bass"}
SPEECH = {"speech", "rap", "scream"}
# Classes whose sustained melodies get vibrato.
VIBRATO_CLASSES = {"voice", "strings", "woodwinds", "brass", "free reed"}
SYNTH_ROLES = {80: "melody", 81: "melody", 84: "melody", 85: "melody", 87: "melody",
               88: "pad", 89: "pad", 91: "pad", 92: "pad", 95: "pad", 50: "pad", 51: "pad",
               90: "arp", 62: "comp", 63: "comp", 38: "bass", 39: "bass"}


@dataclass(frozen=True)
class SongSettings:
    """What determines a song's files (besides the track itself)."""

    seed: int
    duration: float
    soundfonts: tuple[str, ...]  # paths, in the order given
    stem_channels: int = 1
    mix_channels: int = 2
    min_active: float = 1.0  # seconds a stem must play in the excerpt to be rendered
    dilate_frames: int = 1


@lru_cache(maxsize=1)
def _taxonomy():
    from timbral.taxonomy import load_taxonomy

    return load_taxonomy()


def rng_for(seed: int, track_id: str, *keys: str) -> np.random.Generator:
    """An independent, stable random stream per (seed, track, purpose...)."""
    words = [seed & 0xFFFFFFFF, zlib.crc32(track_id.encode())] + [zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass
class Layer:
    label: str
    role: str
    sound: Sound
    soundfont: str
    bank: int = 0
    program: int = 0
    drum: bool = False
    notes: list = field(default_factory=list)
    level_db: float = 0.0
    fallback: bool = False
    detail: str = ""
    vibrato: Vibrato | None = None

    def describe(self) -> dict:
        return {"label": self.label, "role": self.role, "soundfont": Path(self.soundfont).name,
                "bank": 128 if self.drum else self.bank, "program": self.program,
                "level_db": round(self.level_db, 2), "fallback": self.fallback,
                **({"vibrato": [round(v, 3) for v in self.vibrato]} if self.vibrato else {}),
                **({"detail": self.detail} if self.detail else {})}


def _rms(y: np.ndarray, gate: np.ndarray) -> float:
    on = gate > 0.5
    sel = y[on] if on.any() else y
    return float(np.sqrt(np.mean(np.square(sel, dtype=np.float64)))) if sel.size else 0.0


def _level(y: np.ndarray, gate: np.ndarray, target: float) -> np.ndarray:
    r = _rms(y, gate)
    return (y * (target / r)).astype(np.float32) if r > 1e-9 else y


def _resolve_role(sound: Sound, component: str, program: int) -> str:
    """The part a stem plays: the label's role, refined by its MedleyDB component."""
    role = sound.role
    if role == "synth":
        if component == "bass":
            return "bass"
        if component == "melody":
            return "melody"
        return SYNTH_ROLES.get(program, "pad")
    if role in ("comp", "arp", "section", "pad") and component == "melody":
        return "melody"
    if role in ("comp", "arp", "pad", "melody") and component == "bass":
        return "bass"
    return role


def _synth_program(sound: Sound, component: str) -> tuple[tuple[int, int], ...]:
    """Synthesizer variants restricted to the stem's component (bass, lead, or the rest)."""
    if sound.role != "synth":
        return sound.programs
    want = {"bass": ("bass",), "melody": ("melody",)}.get(component, ("pad", "arp", "comp"))
    subset = tuple(p for p in sound.programs if SYNTH_ROLES.get(p[1], "pad") in want)
    return subset or sound.programs


def _ensure_notes(notes: list, mask: np.ndarray, key: int, tag: str = "") -> tuple[list, bool]:
    """Gated notes, or one note across the longest active run when the gate left none."""
    if notes or not mask.any():
        return notes, False
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    i = int(np.argmax(ends - starts))
    start = starts[i] * activity.FRAME
    return [Note(start, (ends[i] - starts[i]) * activity.FRAME, key, 100, tag)], True


class SongRenderer:
    """Renders one track into a temporary folder mirroring the corpus layout."""

    def __init__(self, track: Track, acts: Activations | None, settings: SongSettings):
        self.track = track
        self.acts = acts
        self.s = settings
        self.record: dict = {"track_id": track.track_id, "artist": track.artist, "genre": track.genre}

    def rng(self, *keys: str) -> np.random.Generator:
        return rng_for(self.s.seed, self.track.track_id, *keys)

    # ------------------------------------------------------------------ stems and activity
    def choose(self) -> tuple[float, float, dict[str, np.ndarray], SongPlan]:
        """Excerpt start and length, per-stem activity masks of the kept stems, and the plan."""
        stems = [s for s in self.track.stems if any(lab not in SKIP_LABELS for lab in s.instruments)]
        ids = [s.stem_id for s in stems]
        start, duration, real = 0.0, self.s.duration, {}
        if self.acts is not None:
            start = activity.choose_excerpt(self.acts, ids, duration, self.s.min_active)
            end = float(self.acts.times[-1]) if len(self.acts.times) else duration
            duration = max(2.0, min(duration, end - start))
            real = activity.real_masks(self.acts, ids, start, duration)
        plan = make_plan(self.rng("plan"), self.track.genre, duration)
        masks = {}
        for stem in stems:
            if stem.stem_id in real:
                masks[stem.stem_id] = real[stem.stem_id]
            else:
                role = sound_for(stem.instruments[0]).role
                masks[stem.stem_id] = activity.generated_mask(self.rng("activity", stem.stem_id), role,
                                                              plan.bar, duration)
        playing = {k: v for k, v in masks.items() if v.sum() * activity.FRAME >= self.s.min_active}
        if not playing and masks:
            best = max(masks, key=lambda k: (masks[k].sum(), k))
            playing = {best: masks[best]} if masks[best].any() else {}
        if not playing:  # nothing plays in any stem: let the first stem play throughout
            first = stems[0].stem_id
            playing = {first: np.ones(activity.frames_for(duration), dtype=bool)}
        self.record.update({
            "excerpt_start": round(start, 4), "duration": round(duration, 4),
            "activation": "real" if self.acts is not None else "generated",
            "dropped_stems": sorted(set(s.stem_id for s in self.track.stems) - set(playing)),
            "tempo": plan.tempo, "key": plan.key, "minor": plan.minor, "meter": plan.meter,
            "swing": round(plan.swing, 3), "style": plan.style,
        })
        return start, duration, playing, plan

    # ------------------------------------------------------------------ layers
    def layers(self, stem: Stem, plan: SongPlan, mask: np.ndarray, duration: float) -> list[Layer]:
        labels = [lab for lab in stem.instruments if lab not in SKIP_LABELS]
        gate_mask = activity.dilate(mask, self.s.dilate_frames)
        out = []
        for i, label in enumerate(labels):
            sound = sound_for(label)
            rng = self.rng("stem", stem.stem_id, label)
            draws = rng.integers(1 << 30, size=3)
            sf_path = self.s.soundfonts[int(self.rng("soundfont", stem.stem_id, label).integers(1 << 30))
                                        % len(self.s.soundfonts)]
            variants = _synth_program(sound, stem.component)
            bank, program = synth.pick_program(sf_path, variants, int(draws[0]))
            drawn_program = variants[int(draws[0]) % len(variants)][1]
            role = _resolve_role(sound, stem.component, drawn_program)
            layer = Layer(label, role, sound, sf_path, bank, program,
                          level_db=0.0 if i == 0 else float(rng.uniform(-6, 0)))
            if role in ("kit", "drum_machine", "percussion") or (role == "hits" and sound.keys):
                layer.drum = True
                layer.program = synth.pick_kit(sf_path, sound.kits, int(draws[1]))
            if role in SPEECH | {"fx", "sampler", "scratch", "system"}:
                out.append(layer)
                continue
            lo, hi = sound.range
            if role == "bass" and sound.role != "bass":
                sound = replace(sound, range=(max(24, lo - 12), max(24, lo - 12) + 24))
                layer.sound = sound
            notes = notes_for(sound, role, plan, rng, duration, stem.component)
            gated = activity.gate_notes(notes, gate_mask)
            if role in ("kit", "drum_machine"):
                pieces = [p for p in DRUM_PIECES if p in sound.pieces]
                merged = []
                for piece in pieces:
                    got, fb = _ensure_notes([n for n in gated if n.tag == piece], gate_mask,
                                            PIECE_KEYS[piece][0], piece)
                    merged += got
                    layer.fallback |= fb
                gated = sorted(merged, key=lambda n: (n.start, n.key))
            else:
                key = sound.keys[0] if sound.keys else (lo + hi) // 2
                gated, layer.fallback = _ensure_notes(gated, gate_mask, key)
            layer.notes = gated
            vib = (float(rng.uniform(8, 45)), float(rng.uniform(4.5, 6.5)), float(rng.uniform(0.12, 0.35)))
            if role == "melody" and self.taxonomy_class(label) in VIBRATO_CLASSES:
                layer.vibrato = Vibrato(*vib)
            out.append(layer)
        return out

    @staticmethod
    def taxonomy_class(label: str) -> str | None:
        tax = _taxonomy()
        return tax.mapping.get(label)

    def play(self, layer: Layer, plan: SongPlan, mask: np.ndarray, n: int, duration: float,
             stem_id: str) -> dict[str, np.ndarray]:
        """Audio of a layer: {piece: signal} for kits, else {"": signal}; dry, unlevelled."""
        rng = self.rng("texture", stem_id, layer.label)

        def render(notes: list, drum: bool = layer.drum, bank: int = layer.bank,
                   program: int = layer.program) -> np.ndarray:
            return synth.render_notes(layer.soundfont, bank, program, drum, notes, n)

        if layer.role in SPEECH:
            y, spoken = speech.speech_layer(rng, plan, layer.role, layer.sound.voice, n, duration, mask)
            layer.detail = "espeak-ng" if spoken else "tonal fallback"
            return {"": y}
        if layer.role == "fx":
            y, kind = textures.fx_texture(rng, plan, render, n, duration)
            layer.detail = kind
            return {"": y}
        if layer.role == "sampler":
            return {"": textures.sampler_texture(rng, plan, render, n, duration, *layer.sound.range)}
        if layer.role == "scratch":
            return {"": textures.scratch_texture(rng, plan, render, n, *layer.sound.range)}
        if layer.role in ("kit", "drum_machine"):
            out = {}
            for piece in DRUM_PIECES:
                notes = [x for x in layer.notes if x.tag == piece]
                if notes:
                    y = render(notes)
                    if np.abs(y).max() < 1e-6:  # the kit lacks the key: use the standard kit
                        y = render(notes, program=0)
                        layer.fallback = True
                    out[piece] = y
            return out
        bends = layer.vibrato.bends(layer.notes) if layer.vibrato else None
        y = synth.render_notes(layer.soundfont, layer.bank, layer.program, layer.drum, layer.notes, n, bends)
        if np.abs(y).max() < 1e-6:
            safe = [x._replace(key=54 if layer.drum else x.key) for x in layer.notes]
            y = render(safe, program=0 if layer.drum else layer.program, bank=0)
            if np.abs(y).max() < 1e-6:
                y = render(safe, drum=False, bank=0, program=0)
            layer.fallback = True
        return {"": y}

    # ------------------------------------------------------------------ whole song
    def render(self, tmp: Path) -> dict:
        start, duration, masks, plan = self.choose()
        n = int(round(duration * SR))
        t = self.track
        stems = [s for s in t.stems if s.stem_id in masks]
        finals: dict[str, np.ndarray] = {}
        raws: dict[str, dict[str, np.ndarray]] = {}
        info: dict[str, dict] = {}
        pitch_notes: dict[str, list] = {}
        system_stems = []
        for stem in stems:
            mask = masks[stem.stem_id]
            gate = activity.gate_signal(activity.dilate(mask, self.s.dilate_frames), n)
            layers = self.layers(stem, plan, mask, duration)
            rng = self.rng("mixing", stem.stem_id)
            role = layers[0].role if layers else "pad"
            gain_db = float(rng.uniform(*({"kit": (-16, -10), "drum_machine": (-16, -10), "bass": (-18, -10),
                                          "system": (-18, -10), "melody": (-22, -10), "rap": (-18, -10),
                                          "speech": (-18, -10), "scream": (-20, -10)}.get(role, (-35, -12)))))
            pan = 0.0 if role in ("kit", "drum_machine", "bass", "system", "rap", "speech") else float(rng.uniform(-0.6, 0.6))
            chain = [] if role in ("fx", "sampler", "system") else effects.draw_chain(rng, role, layers[0].label, plan.style)
            info[stem.stem_id] = {"labels": list(stem.instruments), "layers": layers, "gain_db": round(gain_db, 2),
                                  "pan": round(pan, 3), "chain": chain}
            if role == "system":
                system_stems.append((stem, gate, rng))
                continue
            pieces: dict[str, np.ndarray] = {}
            dry = np.zeros(n, dtype=np.float32)
            for layer in layers:
                sig = self.play(layer, plan, mask, n, duration, stem.stem_id)
                total = sum(sig.values())
                scale = REF_RMS * 10 ** (layer.level_db / 20) / max(_rms(total * gate, gate), 1e-9)
                for k, v in sig.items():
                    pieces[k] = pieces.get(k, 0) + v * scale
                dry += total * scale
            wet = effects.apply(chain, dry) if chain else dry
            finals[stem.stem_id] = _level(wet * gate, gate, 10 ** (gain_db / 20))
            raws[stem.stem_id] = self._raws(stem, layers, pieces, dry, gate)
            if len(layers) == 1 and layers[0].role in PITCHED_MONO and not layers[0].drum:
                pitch_notes[stem.stem_id] = (layers[0].notes, layers[0].vibrato)
        for stem, gate, rng in system_stems:
            band = np.asarray(sum(finals.values()) if finals else np.zeros(n), dtype=np.float32)
            if _rms(band * gate, gate) < 1e-6:  # nothing else plays while the room mic does
                band = self._ensemble_fallback(plan, rng, n, duration)
            room = effects.room_chain(rng)
            info[stem.stem_id]["chain"] = room
            y = effects.apply(room, np.asarray(band, dtype=np.float32))
            finals[stem.stem_id] = _level(y * gate, gate, 10 ** (info[stem.stem_id]["gain_db"] / 20))
            raws[stem.stem_id] = self._raws(stem, [], {}, y * gate, gate)
        self._mix_and_write(tmp, finals, raws, info, pitch_notes, masks, start, n)
        return self.record

    def _ensemble_fallback(self, plan: SongPlan, rng: np.random.Generator, n: int,
                           duration: float) -> np.ndarray:
        """Piano chords for a room recording of an excerpt where no other stem plays."""
        sound = sound_for("piano")
        notes = notes_for(sound, "comp", plan, rng, duration)
        return synth.render_notes(self.s.soundfonts[0], 0, 0, False, notes, n)

    def _raws(self, stem: Stem, layers: list[Layer], pieces: dict[str, np.ndarray], dry: np.ndarray,
              gate: np.ndarray) -> dict[str, np.ndarray]:
        """Raw recordings: one per drum-kit piece group, else the dry stem as its first raw."""
        if not stem.raws:
            return {}
        rng = self.rng("raws", stem.stem_id)
        groups: dict[str, list[str]] = {}
        kit = len(layers) == 1 and layers[0].role in ("kit", "drum_machine") and len(stem.raws) > 1
        if kit and len(pieces) > 1:
            left = [p for p in DRUM_PIECES if p in pieces]
            generic = []
            for raw in stem.raws:
                piece = PIECE_OF_LABEL.get(raw.instruments[0])
                if piece in left:
                    groups[raw.raw_id] = [piece]
                    left.remove(piece)
                else:
                    generic.append(raw.raw_id)
            for rid in generic:
                if left:
                    groups[rid] = [left.pop(0)]
            if left and groups:  # no raw left for these pieces: they share the last raw (overheads)
                last = next(reversed(groups))
                groups[last] += left
        out = {}
        if groups:
            for rid, ps in groups.items():
                out[rid] = sum(pieces[p] for p in ps) * gate
        else:
            out[stem.raws[0].raw_id] = dry * gate
        for rid in out:
            y = _level(out[rid], gate, 10 ** (float(rng.uniform(-30, -16)) / 20))
            peak = float(np.abs(y).max())
            out[rid] = y * (0.98 / peak) if peak > 0.98 else y
        return out

    def _mix_and_write(self, tmp: Path, finals: dict, raws: dict, info: dict, pitch_notes: dict,
                       masks: dict, start: float, n: int) -> None:
        t = self.track
        ids = sorted(finals)
        pans = np.array([info[s]["pan"] for s in ids], dtype=np.float32)
        stack = np.stack([finals[s] for s in ids])
        left = ((1 - pans)[:, None] * stack).sum(axis=0)
        right = ((1 + pans)[:, None] * stack).sum(axis=0)
        peak = max(float(np.abs(left).max()), float(np.abs(right).max()), float(np.abs(stack).max()))
        scale = MIX_PEAK / peak if peak > MIX_PEAK else 1.0
        stack *= scale
        mix = np.column_stack([left, right]) * scale if self.s.mix_channels == 2 else stack.sum(axis=0)
        audio = tmp / "Audio" / t.track_id
        writer.write_wav(audio / t.mix_filename, mix)
        stem_by_id = {s.stem_id: s for s in t.stems}
        kept_raws: dict[str, list[str]] = {}
        for i, sid in enumerate(ids):
            stem = stem_by_id[sid]
            y = stack[i]
            if self.s.stem_channels == 2:
                y = np.column_stack([y * (1 - pans[i]), y * (1 + pans[i])])
            writer.write_wav(audio / t.stem_dir / stem.filename, y)
            kept_raws[sid] = sorted(raws.get(sid, {}))
            raw_by_id = {r.raw_id: r for r in stem.raws}
            for rid, ry in sorted(raws.get(sid, {}).items()):
                writer.write_wav(audio / t.raw_dir / raw_by_id[rid].filename, ry)
        times, conf = activity.activation_confidence(list(stack))
        writer.write_metadata(audio / f"{t.track_id}_METADATA.yaml",
                              writer.restricted_metadata(t, kept_raws, excerpt=True))
        lab = writer.activation_path(tmp, t.track_id)
        lab.parent.mkdir(parents=True, exist_ok=True)
        activity.write_lab(lab, times, conf, ids)
        for sid, (notes, vibrato) in pitch_notes.items():
            writer.write_pitch(writer.pitch_path(tmp, t.track_id, stem_by_id[sid].index),
                               writer.pitch_rows(notes, n, vibrato))
        real = (activity.real_curves(self.acts, ids, start, n / SR) if self.acts is not None else {})
        stems_out = {}
        for i, sid in enumerate(ids):
            entry = dict(info[sid])
            entry["layers"] = [layer.describe() for layer in entry["layers"]]
            entry["raws"] = kept_raws[sid]
            entry["active_seconds"] = round(float(masks[sid].sum() * activity.FRAME), 2)
            if sid in real:
                entry["agreement"] = round(activity.agreement(real[sid], conf[i]), 4)
            stems_out[sid] = entry
        self.record["stems"] = stems_out
        self.record["mix_scale_db"] = round(20 * np.log10(scale), 2)
        self.record["pitch_stems"] = sorted(pitch_notes)
