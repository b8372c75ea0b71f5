"""Generalisation: the test songs rendered again with a SoundFont no model heard in training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from timbral.config import stable_hash
from timbral.pipeline import stages
from timbral.pipeline.config import PipelineConfig
from timbral.pipeline.workspace import Workspace


def unseen_soundfont() -> Path:
    """pretty_midi's TimGM6mb: a different sample set from the training SoundFont(s)."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def stage_unseen(cfg: PipelineConfig, ws: Workspace, test_rows: pd.DataFrame,
                 artifacts: dict[str, Path], classes: list[str]) -> dict[str, dict]:
    """Render the test songs with unseen sounds, extract features, score every model on all of it."""
    from timbral.corpus import render_corpus
    from timbral.data.features import extract_features
    from timbral.data.manifest import build_manifest

    if cfg.root is not None or not cfg.unseen.get("enabled", True):
        return {}
    tracks = sorted(test_rows["track_id"].unique())
    limit = cfg.unseen.get("max_tracks")
    tracks = tracks[:limit] if limit else tracks
    soundfont = Path(cfg.unseen.get("soundfont") or unseen_soundfont())
    corpus = ws.unseen_dir / "corpus"
    key = stable_hash("unseen", cfg.corpus, tracks, str(soundfont))
    if not ws.fresh("unseen-corpus", key, corpus / "corpus.json"):
        render_corpus(corpus, preset=cfg.corpus["preset"], soundfonts=[soundfont], tracks=tracks,
                      seed=cfg.corpus.get("seed", 0), n_jobs=cfg.n_jobs)
        ws.mark("unseen-corpus", key)
    stages.say("unseen", f"{len(tracks)} test songs rendered with {soundfont.name} -> {corpus}")
    manifest = build_manifest(corpus, cfg.kinds, cfg.taxonomy, skip_unmapped=cfg.skip_unmapped)
    table = extract_features(manifest, ws.unseen_dir / "cache", cfg.feature, cfg.segment,
                             n_jobs=cfg.n_jobs, progress=True)
    rows = stages.usable(manifest, table)
    split_info = {"group": "none: every item is a test item", "soundfont": soundfont.name,
                  "tracks": len(tracks)}
    return {
        name: stages.stage_evaluate(cfg, ws, name, path, rows, None, classes, split_info,
                                    out=ws.unseen_dir / "eval" / name, key_extra=key)
        for name, path in artifacts.items()
    }
