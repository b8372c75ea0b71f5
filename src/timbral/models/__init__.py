"""Models: nn.Modules taking a (batch, 1, n_mels, frames) log-mel in dB and returning logits.

`MODELS` maps a name to a class; artifacts store the name and the constructor keywords.
- reference_cnn: the reference study's CNN (528,145 parameters with 17 classes);
- improved_cnn: batch norm, early downsampling, attention pooling over time (the default);
- descriptor_logreg: MFCC/spectral-descriptor statistics + one-vs-rest logistic regression,
  fitted with scikit-learn by `timbral.training.train_baseline`.
"""

from __future__ import annotations

from torch import nn

from timbral.errors import ModelError
from timbral.models.descriptors import DescriptorLogReg
from timbral.models.improved import ImprovedCNN
from timbral.models.reference import ReferenceCNN

MODELS: dict[str, type[nn.Module]] = {
    "reference_cnn": ReferenceCNN,
    "improved_cnn": ImprovedCNN,
    "descriptor_logreg": DescriptorLogReg,
}


def build_model(name: str, n_classes: int, **kwargs) -> nn.Module:
    """Instantiate a registered model."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r} (known: {', '.join(sorted(MODELS))})") from None
    try:
        return cls(n_classes=n_classes, **kwargs)
    except TypeError as exc:
        raise ModelError(f"model {name!r}: {exc}") from None


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
