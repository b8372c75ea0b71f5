"""The self-describing model artifact: one `.pt` file with weights and everything needed to
use them (class list, taxonomy, feature and segment config, thresholds, training config,
validation metrics, package version).

Saved atomically; loaded with `torch.load(weights_only=True)`; a SHA-256 over the metadata
and the tensors refuses a tampered or truncated file.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from timbral.config import FeatureConfig, SegmentConfig, from_dict, to_dict
from timbral.errors import ModelError

FORMAT = "timbral-model"
FORMAT_VERSION = 1


def _version() -> str:
    from timbral import __version__

    return __version__


@dataclass
class ModelArtifact:
    """Weights plus the settings that produced them."""

    model_name: str
    classes: list[str]
    state_dict: dict[str, torch.Tensor]
    model_kwargs: dict = field(default_factory=dict)
    taxonomy: dict = field(default_factory=dict)
    feature: FeatureConfig = field(default_factory=FeatureConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    thresholds: list[float] | None = None  # per class; 0.5 until tuned on validation
    thresholds_source: str = "0.5"  # or "tuned-on-val"
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # validation metrics
    version: str = field(default_factory=_version)

    def __post_init__(self) -> None:
        if self.thresholds is None:
            self.thresholds = [0.5] * len(self.classes)
        if len(self.thresholds) != len(self.classes):
            raise ModelError(
                f"artifact: {len(self.thresholds)} thresholds for {len(self.classes)} classes"
            )

    def meta(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION, "model_name": self.model_name,
            "model_kwargs": self.model_kwargs, "classes": list(self.classes),
            "taxonomy": self.taxonomy, "feature": to_dict(self.feature),
            "segment": to_dict(self.segment), "thresholds": [float(t) for t in self.thresholds],
            "thresholds_source": self.thresholds_source, "training": self.training,
            "metrics": self.metrics, "version": self.version,
        }

    def build_model(self) -> nn.Module:
        """The model with these weights, in eval mode."""
        from timbral.models import build_model

        model = build_model(self.model_name, len(self.classes), **self.model_kwargs)
        expected = model.state_dict()
        missing = sorted(set(expected) - set(self.state_dict))
        unexpected = sorted(set(self.state_dict) - set(expected))
        resized = sorted(k for k in set(expected) & set(self.state_dict)
                         if tuple(expected[k].shape) != tuple(self.state_dict[k].shape))
        if missing or unexpected or resized:
            parts = [f"{what} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                     for what, keys in (("missing", missing), ("unexpected", unexpected),
                                        ("wrong shape", resized)) if keys]
            raise ModelError(f"artifact weights do not fit {self.model_name} "
                             f"({'; '.join(parts)}): retrain the model")
        model.load_state_dict(self.state_dict)
        return model.eval()

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta_json = json.dumps(self.meta(), sort_keys=True, default=float)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict.items()}
        payload = {"meta_json": meta_json, "state_dict": state, "sha256": _digest(meta_json, state)}
        buf = io.BytesIO()
        torch.save(payload, buf)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(buf.getvalue())
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelArtifact:
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"{path}: model artifact not found")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            meta_json, state, digest = payload["meta_json"], payload["state_dict"], payload["sha256"]
            meta = json.loads(meta_json)
        except Exception as exc:  # noqa: BLE001 - any failure here means "not an artifact"
            raise ModelError(f"{path}: not a timbral model artifact ({type(exc).__name__})") from None
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path}: not a timbral model artifact (format {meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{path}: artifact format {meta.get('format_version')} is not supported")
        if _digest(meta_json, state) != digest:
            raise ModelError(f"{path}: checksum mismatch: the artifact was modified or is corrupt")
        missing = [k for k in _META_KEYS if k not in meta]
        if missing:
            raise ModelError(f"{path}: artifact metadata lacks {', '.join(missing)}")
        return cls(
            model_name=meta["model_name"], classes=meta["classes"], state_dict=state,
            model_kwargs=meta["model_kwargs"], taxonomy=meta["taxonomy"],
            feature=from_dict(FeatureConfig, meta["feature"], f"{path}: feature"),
            segment=from_dict(SegmentConfig, meta["segment"], f"{path}: segment"),
            thresholds=meta["thresholds"], thresholds_source=meta["thresholds_source"],
            training=meta["training"], metrics=meta["metrics"], version=meta["version"],
        )


_META_KEYS = ("model_name", "classes", "model_kwargs", "taxonomy", "feature", "segment",
              "thresholds", "thresholds_source", "training", "metrics", "version")


def _digest(meta_json: str, state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256(meta_json.encode())
    for name in sorted(state):
        t = state[name]
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()
