"""How the preset track lists in `presets.yaml` were chosen (rerun to regenerate them):

    python -m timbral.corpus.selection

For every track, the stems that play in its default excerpt give the classes it brings.
`demo` first adds, greedily, the track that gives the most still-missing (class, artist)
pairs, until every class of the default taxonomy has stems from `min_artists` artists (or
from all artists the metadata has for it), then fills up to the target size favouring new
artists and rare classes. `tiny` takes cheap tracks from distinct artists that add the most
new classes. Ties break on fewer files, then on the track id, so the lists are stable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from timbral.corpus import activity
from timbral.corpus.render import available_tracks
from timbral.corpus.song import SKIP_LABELS
from timbral.corpus.sounds import sound_for
from timbral.data.medleydb import Track, read_activations, read_track
from timbral.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class Profile:
    track_id: str
    artist: str
    genre: str
    classes: frozenset[str]
    stems: int
    files: int  # mono-file equivalents written (a stereo mix counts 2)
    real_activity: bool


def profile(track: Track, acts, duration: float, taxonomy: Taxonomy, min_active: float = 1.0) -> Profile:
    """The classes and size of the track as the renderer would write it."""
    stems = [s for s in track.stems if any(lab not in SKIP_LABELS for lab in s.instruments)]
    if acts is not None:
        ids = [s.stem_id for s in stems]
        start = activity.choose_excerpt(acts, ids, duration, min_active)
        masks = activity.real_masks(acts, ids, start, duration)
        stems = [s for s in stems if s.stem_id not in masks
                 or masks[s.stem_id].sum() * activity.FRAME >= min_active]
    classes = set()
    files = 2
    for s in stems:
        classes |= {taxonomy.to_class(lab) for lab in s.instruments if taxonomy.covers(lab)} - {None}
        kit = len(s.instruments) == 1 and sound_for(s.instruments[0]).role in ("kit", "drum_machine")
        files += 1 + (min(5, len(s.raws)) if kit else min(1, len(s.raws)))
    return Profile(track.track_id, track.artist, track.genre, frozenset(classes), len(stems), files,
                   acts is not None)


DEMO_SIZE = 42  # ~1.9 GB of 30 s excerpts (mono stems and raws, stereo mixes)


def profiles(duration: float, taxonomy: Taxonomy | None = None) -> list[Profile]:
    taxonomy = taxonomy or load_taxonomy()
    out = []
    for meta, lab in available_tracks().values():
        track = read_track(meta)
        acts = read_activations(lab, track) if lab is not None else None
        out.append(profile(track, acts, duration, taxonomy))
    return out


def select_demo(pool: list[Profile], classes: tuple[str, ...], size: int, min_artists: int = 3) -> list[str]:
    """Cover every class with `min_artists` artists where possible, then fill to `size`."""
    avail: dict[str, set[str]] = defaultdict(set)
    for p in pool:
        for c in p.classes:
            avail[c].add(p.artist)
    target = {c: min(min_artists, len(avail[c])) for c in classes}
    have: dict[str, set[str]] = defaultdict(set)
    chosen: list[Profile] = []
    artists: set[str] = set()

    def gain(p: Profile) -> float:
        return sum(1.0 / len(avail[c]) for c in p.classes
                   if len(have[c]) < target.get(c, 0) and p.artist not in have[c])

    while any(len(have[c]) < target[c] for c in classes):
        left = [p for p in pool if p not in chosen and gain(p) > 0]
        if not left:
            break
        best = min(left, key=lambda p: (-gain(p), p.artist in artists, p.files, p.track_id))
        chosen.append(best)
        artists.add(best.artist)
        for c in best.classes:
            have[c].add(best.artist)
    counts: dict[str, int] = defaultdict(int)
    for p in chosen:
        for c in p.classes:
            counts[c] += 1
    genres: dict[str, int] = defaultdict(int)
    for p in chosen:
        genres[p.genre] += 1
    while len(chosen) < size:
        left = [p for p in pool if p not in chosen and p.real_activity]
        if not left:
            break

        def score(p: Profile) -> float:
            return (2.0 * (p.artist not in artists) + sum(1.0 / (1 + counts[c]) for c in p.classes)
                    + 1.0 / (1 + genres[p.genre]) - 0.02 * p.files)

        best = min(left, key=lambda p: (-score(p), p.files, p.track_id))
        chosen.append(best)
        artists.add(best.artist)
        genres[best.genre] += 1
        for c in best.classes:
            counts[c] += 1
    return sorted(p.track_id for p in chosen)


def select_tiny(pool: list[Profile], size: int = 6, max_stems: int = 8) -> list[str]:
    """Cheap tracks from distinct artists, each adding the most classes not yet covered."""
    cands = [p for p in pool if p.real_activity and p.stems <= max_stems]
    chosen: list[Profile] = []
    covered: set[str] = set()
    while len(chosen) < size:
        artists = {p.artist for p in chosen}
        left = [p for p in cands if p.artist not in artists]
        if not left:
            break
        best = min(left, key=lambda p: (-len(p.classes - covered), p.files, p.track_id))
        chosen.append(best)
        covered |= best.classes
    return sorted(p.track_id for p in chosen)


def artist_counts(pool: list[Profile], ids: list[str]) -> dict[str, int]:
    """Per class, how many artists have stems of it among `ids`."""
    have: dict[str, set[str]] = defaultdict(set)
    for p in pool:
        if p.track_id in ids:
            for c in p.classes:
                have[c].add(p.artist)
    return {c: len(a) for c, a in have.items()}


HEADER = """\
# Size presets of the rendered corpus. Track lists are made by `python -m timbral.corpus.selection`
# (see that module for how they are chosen); `full` renders every track of the metadata.
# duration: excerpt seconds; stem_channels / mix_channels: 1 = mono, 2 = stereo.
"""


def main() -> None:
    """Recompute the tiny and demo track lists, rewrite presets.yaml, print class coverage."""
    import logging

    import yaml

    from timbral.corpus.presets import TABLE

    logging.getLogger("timbral.data.medleydb").setLevel(logging.ERROR)
    tax = load_taxonomy()
    tiny = select_tiny(profiles(10.0, tax))
    demo_pool = profiles(30.0, tax)
    demo = select_demo(demo_pool, tax.classes, size=DEMO_SIZE)
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    data["presets"]["tiny"]["tracks"] = tiny
    data["presets"]["demo"]["tracks"] = demo
    TABLE.write_text(HEADER + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    counts = artist_counts(demo_pool, demo)
    print("demo: artists per class", {c: counts.get(c, 0) for c in tax.classes})


if __name__ == "__main__":
    main()
