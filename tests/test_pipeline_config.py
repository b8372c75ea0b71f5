from __future__ import annotations

import pytest

from timbral.errors import ConfigError
from timbral.pipeline.config import PRESETS, load_config


def test_full_preset_is_the_reference_configuration():
    cfg = load_config("full")
    assert cfg.feature.segment_seconds == 15.0 and cfg.feature.n_frames == 646
    assert cfg.feature.n_fft == 2048 and cfg.feature.hop_length == 512 and cfg.feature.n_mels == 128
    assert cfg.train == {} and cfg.split["group"] == "artist"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_load(preset):
    assert load_config(preset).preset == preset


def test_config_file_overrides_preset(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("feature: {segment_seconds: 3.0}\ntrain: {max_epochs: 1}\n")
    cfg = load_config("demo", path)
    assert cfg.feature.segment_seconds == 3.0 and cfg.train["max_epochs"] == 1
    assert cfg.train["patience"] == PRESETS["demo"]["train"]["patience"]


@pytest.mark.parametrize(
    "text, needle",
    [("nonsense: 1\n", "nonsense"), ("feature: {n_mel: 3}\n", "n_mel"), ("[1, 2\n", "malformed"),
     ("models: [resnet]\n", "resnet")],
)
def test_bad_config_files_name_the_problem(tmp_path, text, needle):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config("demo", path)
