"""Models: nn.Modules taking a (batch, 1, n_mels, frames) log-mel in dB and returning logits.

`MODELS` maps a name to a class; artifacts store the name and the constructor keywords.
"""

from __future__ import annotations

from torch import nn

from timbral.errors import ModelError
from timbral.models.reference import ReferenceCNN

MODELS: dict[str, type[nn.Module]] = {
    "reference_cnn": ReferenceCNN,
}


def build_model(name: str, n_classes: int, **kwargs) -> nn.Module:
    """Instantiate a registered model."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})") from None
    return cls(n_classes=n_classes, **kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
