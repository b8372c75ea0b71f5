"""A folder of generated examples: one float16 log-mel `.npy` plus a JSON record per key.

Both files are written to a temporary name and renamed; the JSON record is written last and
marks the entry as complete, so an interrupted run leaves no entry that looks finished.
A record may also stand for "nothing produced" (no `.npy`), so such work is not redone.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ExampleStore:
    """Keyed generated examples under `root` (created on first write)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def npy_path(self, key: str) -> Path:
        return self.root / f"{key}.npy"

    def record_path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def read(self, key: str) -> dict | None:
        """The record of a complete entry, or None if absent or its array is missing."""
        try:
            record = json.loads(self.record_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("ok") and not self.npy_path(key).is_file():
            return None
        return record

    def write(self, key: str, array: np.ndarray | None, record: dict) -> dict:
        """Store `array` (as float16) if given, then `record`; returns the record written."""
        self.root.mkdir(parents=True, exist_ok=True)
        record = {**record, "ok": array is not None}
        if array is not None:
            data = np.asarray(array, dtype=np.float16)
            _atomic_write(self.npy_path(key), lambda f: np.save(f, data))
        blob = json.dumps(record, sort_keys=True).encode()
        _atomic_write(self.record_path(key), lambda f: f.write(blob))
        return record


def write_json_atomic(path: str | Path, data: dict) -> None:
    """Write `data` as JSON to `path` through a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(data, indent=1, sort_keys=True).encode()
    _atomic_write(path, lambda f: f.write(blob))


def file_identity(path: str | Path) -> list:
    """(path, size, mtime_ns) of a file, for cache keys; a missing file gives (path, None, None)."""
    try:
        st = os.stat(path)
    except OSError:
        return [str(path), None, None]
    return [str(path), st.st_size, st.st_mtime_ns]
