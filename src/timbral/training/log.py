"""The per-epoch CSV log (like Keras' CSVLogger): one row per epoch, rewritten atomically."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

COLUMNS = ("epoch", "train_loss", "train_binary_accuracy", "train_auc",
           "val_loss", "val_binary_accuracy", "val_auc")


class EpochCSV:
    """Appends rows to `path`; each write goes to a temporary file renamed over `path`."""

    def __init__(self, path: str | Path, columns: tuple[str, ...] = COLUMNS) -> None:
        self.path = Path(path)
        self.columns = columns
        self.rows: list[dict] = []

    def append(self, row: dict) -> None:
        self.rows.append({c: row.get(c, math.nan) for c in self.columns})
        self.write()

    def write(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(buf.getvalue())
        tmp.replace(self.path)


def read_log(path: str | Path) -> list[dict]:
    """Rows of an EpochCSV file with numbers parsed."""
    with open(path, newline="") as fh:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(fh)]


def best_row(rows: list[dict], monitor: str = "val_loss") -> dict:
    """The first row with the lowest `monitor` (the epoch ModelCheckpoint keeps)."""
    finite = [r for r in rows if not math.isnan(r[monitor])]
    return min(finite or rows, key=lambda r: r[monitor] if not math.isnan(r[monitor]) else math.inf)
