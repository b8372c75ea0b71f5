"""The LightningModule: any registered model, BCE with logits, Adam, per-epoch metrics."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn

from timbral.models import build_model
from timbral.training.log import EpochCSV
from timbral.training.metrics import EpochMetrics


class TaggingModule(L.LightningModule):
    """Wraps `build_model(model_name, n_classes, **model_kwargs)`.

    At the end of each training epoch (validation has run by then) it logs train_* and val_*
    loss, binary accuracy and macro AUC, and appends them to `csv_log` on the global-zero
    process.
    """

    def __init__(self, model_name: str, n_classes: int, model_kwargs: dict | None = None,
                 lr: float = 3e-4, csv_log: EpochCSV | None = None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["csv_log"])
        self.model = build_model(model_name, n_classes, **(model_kwargs or {}))
        self.loss = nn.BCEWithLogitsLoss()
        self.lr = lr
        self.csv_log = csv_log
        self.train_metrics = EpochMetrics()
        self.val_metrics = EpochMetrics()
        self._val_values: dict[str, float] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch, metrics: EpochMetrics) -> torch.Tensor:
        x, y = batch
        logits = self.model(x)
        loss = self.loss(logits, y)
        metrics.update(logits, y, loss)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, self.train_metrics)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, self.val_metrics)

    def _log_epoch(self, prefix: str, metrics: EpochMetrics) -> dict[str, float]:
        values = {f"{prefix}_{k}": v for k, v in metrics.compute().items()}
        metrics.reset()
        # already gathered across processes by the metric; sync_dist only averages equal values
        self.log_dict(values, prog_bar=prefix == "val", sync_dist=self.trainer.world_size > 1)
        return values

    def on_validation_epoch_end(self) -> None:
        self._val_values = self._log_epoch("val", self.val_metrics)

    def on_train_epoch_end(self) -> None:
        values = self._log_epoch("train", self.train_metrics)
        if self.csv_log is not None and self.trainer.is_global_zero:
            self.csv_log.append({"epoch": self.current_epoch, **values, **self._val_values})

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)
