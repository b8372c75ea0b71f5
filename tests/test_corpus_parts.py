"""Pieces of the corpus renderer: activation algorithm, gating, excerpt choice, sound table, parts."""

from __future__ import annotations

import numpy as np

from timbral.corpus import activity
from timbral.corpus.parts import Note, notes_for
from timbral.corpus.plan import make_plan
from timbral.corpus.sounds import sound_for, sound_table
from timbral.data.medleydb import Activations, load_tracks
from timbral.resources import metadata_dir
from timbral.taxonomy import load_taxonomy

SR = 44100


def _tone(seconds: float, on: tuple[float, float], f: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * f * t) * ((t >= on[0]) & (t < on[1]))).astype(np.float32)


def test_activation_confidence_follows_activity():
    a = _tone(8, (0, 4))
    b = _tone(8, (0, 8), 330)
    times, conf = activity.activation_confidence([a, b])
    assert conf.shape == (2, activity.frames_for(8)) and len(times) == conf.shape[1]
    first, second = times < 3.0, times > 5.0
    assert (conf[0, first] > 0.9).all() and (conf[0, second] < 0.1).all()
    assert (conf[1] > 0.9).all()


def test_activation_confidence_of_silence_is_the_floor():
    _, conf = activity.activation_confidence([np.zeros(SR * 2, dtype=np.float32)] * 2)
    expected = 1 - 1 / (1 + np.exp(20 * (0 - 0.15)))
    assert np.allclose(conf, expected)


def test_lab_format():
    text = activity.format_lab(np.array([0.0, 0.0464]), np.array([[0.5, 1.0], [0.25, 0.0]]), ["S01", "S03"])
    assert text.splitlines() == ["time,S01,S03", "0.0000,0.5000,0.2500", "0.0464,1.0000,0.0000"]


def test_agreement():
    real = np.array([0.9, 0.9, 0.1, 0.1])
    assert activity.agreement(real, np.array([0.8, 0.2, 0.3, 0.0])) == 0.75


def test_choose_excerpt_prefers_where_most_stems_play():
    hop = activity.FRAME
    times = np.arange(int(60 / hop)) * hop
    s1 = np.where(times > 30, 0.9, 0.1)
    s2 = np.where((times > 35) & (times < 50), 0.9, 0.1)
    acts = Activations(times=times, by_stem={"S01": s1, "S02": s2})
    start = activity.choose_excerpt(acts, ["S01", "S02"], 10.0)
    assert 30 <= start <= 40


def test_gate_notes_keeps_onsets_in_active_frames_and_cuts_at_run_end():
    mask = np.zeros(100, dtype=bool)
    mask[20:40] = True
    notes = [Note(0.1, 0.5, 60, 90), Note(25 * activity.FRAME, 5.0, 62, 90)]
    kept = activity.gate_notes(notes, mask, tail=0.0)
    assert len(kept) == 1 and kept[0].key == 62
    assert abs(kept[0].start + kept[0].dur - 40 * activity.FRAME) < 1e-6


def test_generated_activity_plays_somewhere():
    for seed in range(20):
        mask = activity.generated_mask(np.random.default_rng(seed), "melody", 2.0, 4.0)
        assert mask.any() and len(mask) == activity.frames_for(4.0)


def test_every_label_has_a_sound():
    tax = load_taxonomy()
    labels = set(tax.mapping) | {lab for t in load_tracks(metadata_dir()) for lab in t.labels()}
    missing = sorted(lab for lab in labels - set(tax.ignore) if lab not in sound_table())
    assert not missing


def test_parts_stay_in_range_and_are_reproducible():
    plan = make_plan(np.random.default_rng(3), "Rock", 12.0)
    for label in ("electric bass", "piano", "violin", "harp", "string section", "timpani"):
        sound = sound_for(label)
        a = notes_for(sound, sound.role, plan, np.random.default_rng(1), 12.0)
        b = notes_for(sound, sound.role, plan, np.random.default_rng(1), 12.0)
        assert a == b and a
        lo, hi = sound.range
        assert all(lo - 12 <= n.key <= hi + 12 and 0 <= n.start < 12.0 for n in a)
    drums = notes_for(sound_for("drum set"), "kit", plan, np.random.default_rng(1), 12.0)
    assert {"kick", "snare", "hats", "toms", "cymbals"} <= {n.tag for n in drums}
