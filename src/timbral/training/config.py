"""Training settings: the reference study's values by default, plus Lightning's scale-out knobs."""

from __future__ import annotations

from dataclasses import dataclass, replace

from timbral.errors import ConfigError

PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "64-true")


@dataclass(frozen=True)
class TrainConfig:
    """Adam(lr), BCE with logits, early stopping on validation loss with the best weights
    restored. `accelerator`, `devices`, `strategy` and `num_nodes` are Lightning's: e.g.
    devices=4, strategy="ddp" trains on 4 GPUs; num_nodes=2 on two machines. `batch_size` is
    per device (DDP). `limit_*_batches` (a fraction or a count) shorten an epoch, for tests."""

    lr: float = 3e-4
    batch_size: int = 32
    max_epochs: int = 300
    patience: int = 50
    seed: int = 0
    num_workers: int = 0
    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    tensorboard: bool = False
    deterministic: bool = True
    limit_train_batches: float | int = 1.0
    limit_val_batches: float | int = 1.0

    def __post_init__(self) -> None:
        checks = [
            ("lr", _number(self.lr) and self.lr > 0, "must be > 0"),
            ("batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1, "must be an integer >= 1"),
            ("max_epochs", isinstance(self.max_epochs, int) and self.max_epochs >= 1, "must be an integer >= 1"),
            ("patience", isinstance(self.patience, int) and self.patience >= 1, "must be an integer >= 1"),
            ("num_workers", isinstance(self.num_workers, int) and self.num_workers >= 0, "must be an integer >= 0"),
            ("num_nodes", isinstance(self.num_nodes, int) and self.num_nodes >= 1, "must be an integer >= 1"),
            ("precision", str(self.precision) in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}"),
            ("limit_train_batches", _number(self.limit_train_batches) and self.limit_train_batches > 0, "must be > 0"),
            ("limit_val_batches", _number(self.limit_val_batches) and self.limit_val_batches > 0, "must be > 0"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ConfigError(f"train.{name}: {why}, got {getattr(self, name)!r}")

    def with_overrides(self, **changes) -> TrainConfig:
        """A copy with some settings changed (unknown names refused)."""
        unknown = sorted(set(changes) - set(self.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"train: unknown setting(s) {', '.join(unknown)}")
        return replace(self, **changes)


def _number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


TRAIN_PRESETS: dict[str, TrainConfig] = {
    # two quick epochs: smoke tests
    "tiny": TrainConfig(max_epochs=2, patience=2, batch_size=16),
    # a few minutes on 2 CPU cores with the demo corpus (5 s segments)
    "demo": TrainConfig(max_epochs=20, patience=5),
    # the reference study's configuration
    "full": TrainConfig(),
}
