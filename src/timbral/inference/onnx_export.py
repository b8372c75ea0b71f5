"""ONNX export of a model artifact (opset 17), and the in-memory graph inference can run.

Two graphs:
- waveform -> probabilities: (batch, samples) mono windows at the model's rate, with peak
  normalisation and the torch log-mel front end inside (used when the front end exports);
- log-mel -> probabilities: (batch, 1, n_mels, frames) dB input, the front end documented in
  the JSON file written beside the model.
Every file carries the class list, thresholds and feature settings in its metadata and in the
JSON description `<out>.json`.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from timbral.artifact import ModelArtifact
from timbral.config import to_dict
from timbral.data.features import LogMel
from timbral.errors import ConfigError, ModelError

OPSET = 17
log = logging.getLogger(__name__)


class Probabilities(nn.Module):
    """A logits model followed by a sigmoid: log-mel in, per-class probabilities out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(x))


class WaveformProbabilities(nn.Module):
    """Peak normalisation + log-mel front end + model + sigmoid: waveform windows in."""

    def __init__(self, frontend: nn.Module, model: nn.Module) -> None:
        super().__init__()
        self.frontend, self.model = frontend, model

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        peak = y.abs().amax(dim=1, keepdim=True)
        y = torch.where(peak > 0, y / torch.where(peak > 0, peak, torch.ones_like(peak)), y)
        return torch.sigmoid(self.model(self.frontend(y)))


def onnx_bytes(module: nn.Module, example: torch.Tensor, input_name: str) -> bytes:
    """Serialise `module` (batch axis dynamic) to ONNX opset 17, in memory."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), (example,), buf, opset_version=OPSET, input_names=[input_name],
            output_names=["probabilities"], dynamo=False,
            dynamic_axes={input_name: {0: "batch"}, "probabilities": {0: "batch"}},
        )
    return buf.getvalue()


def logmel_graph(artifact: ModelArtifact, batch: int = 2) -> bytes:
    """ONNX bytes of log-mel (B, 1, n_mels, frames) -> probabilities."""
    f = artifact.feature
    example = torch.zeros(batch, 1, f.n_mels, f.n_frames)
    return onnx_bytes(Probabilities(artifact.build_model()), example, "logmel")


def waveform_graph(artifact: ModelArtifact, batch: int = 2) -> bytes:
    """ONNX bytes of waveform (B, samples) -> probabilities, front end inside.

    Raises ModelError when the log-mel front end cannot be exported."""
    f = artifact.feature
    module = WaveformProbabilities(LogMel(f).eval(), artifact.build_model())
    example = torch.randn(batch, f.segment_samples) * 0.1
    try:
        return onnx_bytes(module, example, "waveform")
    except Exception as exc:  # noqa: BLE001 - any exporter failure means "not exportable"
        raise ModelError(f"the log-mel front end does not export to ONNX ({type(exc).__name__})") from None


@dataclass
class ExportResult:
    path: Path
    description: Path
    frontend_inside: bool
    input_name: str


def describe(artifact: ModelArtifact, frontend_inside: bool, model_path: str) -> dict:
    """What a user of the ONNX file needs to know: input, output, classes, thresholds."""
    f = artifact.feature
    if frontend_inside:
        inp = {
            "name": "waveform", "shape": ["batch", f.segment_samples], "dtype": "float32",
            "meaning": (f"mono audio at {f.sr} Hz, {f.segment_seconds:g} s windows "
                        "(zero-padded at the end); peak normalisation happens inside"),
        }
    else:
        inp = {
            "name": "logmel", "shape": ["batch", 1, f.n_mels, f.n_frames], "dtype": "float32",
            "meaning": "log-mel spectrogram in dB, computed outside the graph as below",
            "frontend": {
                "steps": [
                    f"downmix to mono and resample to {f.sr} Hz (soxr, HQ)",
                    f"cut {f.segment_seconds:g} s windows ({f.segment_samples} samples; "
                    "zero-pad the last)",
                    "divide each window by its peak |sample| (skip if all zero)",
                    (f"power mel spectrogram as librosa.feature.melspectrogram(sr={f.sr}, "
                     f"n_fft={f.n_fft}, hop_length={f.hop_length}, n_mels={f.n_mels}): "
                     "Hann window, centred frames with constant (zero) padding, power 2, "
                     "Slaney mel scale and area normalisation"),
                    (f"librosa.power_to_db(ref=max of the window, amin=1e-10, "
                     f"top_db={f.top_db:g})"),
                ],
                "feature_config": to_dict(f),
            },
        }
    return {
        "format": "timbral-onnx", "opset": OPSET, "source_artifact": model_path,
        "model_name": artifact.model_name, "input": inp,
        "output": {"name": "probabilities", "shape": ["batch", len(artifact.classes)],
                   "meaning": "sigmoid probability per class, in the order of `classes`"},
        "classes": list(artifact.classes), "thresholds": [float(t) for t in artifact.thresholds],
        "thresholds_source": artifact.thresholds_source,
        "decision": "a class is present when its probability >= its threshold",
    }


def export_onnx(model_path: str | Path, out: str | Path, frontend: str = "auto") -> ExportResult:
    """Export the artifact at `model_path` to `out` (ONNX, opset 17) plus `<out>.json`.

    frontend: "auto" (inside when it exports, else beside), "inside" (fail if it cannot) or
    "beside" (log-mel input)."""
    import onnx

    if frontend not in {"auto", "inside", "beside"}:
        raise ConfigError(f"frontend: unknown value {frontend!r} (auto, inside, beside)")
    artifact = ModelArtifact.load(model_path)
    data, inside = None, False
    if frontend in {"auto", "inside"}:
        try:
            data, inside = waveform_graph(artifact), True
        except ModelError as exc:
            if frontend == "inside":
                raise
            log.warning("%s; exporting log-mel -> probabilities instead", exc)
    if data is None:
        data = logmel_graph(artifact)
    desc = describe(artifact, inside, str(model_path))
    proto = onnx.load_from_string(data)
    for key, value in (("timbral", json.dumps(desc)), ("classes", json.dumps(desc["classes"]))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    side = Path(f"{out}.json")
    _write_atomic(out, proto.SerializeToString())
    _write_atomic(side, (json.dumps(desc, indent=2) + "\n").encode())
    return ExportResult(out, side, inside, desc["input"]["name"])


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
