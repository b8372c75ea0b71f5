"""Locate the real MedleyDB metadata and activation files shipped by `medleydb-instruments`.

Only its `resources/` folder is read; its code is never imported (it pins an old pandas).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from timbral.errors import DatasetError


def _package_dir() -> Path:
    spec = importlib.util.find_spec("medleydb_instruments")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "medleydb-instruments is not installed: run `pip install --no-deps medleydb-instruments`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def metadata_dir() -> Path:
    """Folder of the 330 real `<Artist_Title>_METADATA.yaml` files."""
    return _package_dir() / "resources" / "metadata"


def activation_dir() -> Path:
    """Folder of the 264 real `<Artist_Title>_ACTIVATION_CONF.lab` files."""
    return _package_dir() / "resources" / "annotations"
