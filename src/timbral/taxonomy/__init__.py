"""Fine MedleyDB label -> class tables, stored as data files beside this module.

Shipped tables: `macro17` (default, the reference's 17 classes) and `fine` (identity over
every label of the shipped table). A user table is a YAML file of the same shape:

    name: mine
    classes: {class name: [fine label, ...], ...}
    ignore: [label, ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from timbral.errors import TaxonomyError

_HERE = Path(__file__).parent
DEFAULT = "macro17"


@dataclass(frozen=True)
class Taxonomy:
    """A mapping from fine labels to classes, with a fixed class order."""

    name: str
    classes: tuple[str, ...]
    mapping: dict[str, str] = field(hash=False)
    ignore: frozenset[str] = frozenset()

    def to_class(self, label: str) -> str | None:
        """Class of a fine label; None for an ignored label; raises for an unknown one."""
        if label in self.ignore:
            return None
        try:
            return self.mapping[label]
        except KeyError:
            raise TaxonomyError(f"taxonomy {self.name!r} does not cover label {label!r}") from None

    def covers(self, label: str) -> bool:
        return label in self.mapping or label in self.ignore

    def unmapped(self, labels: Iterable[str]) -> list[str]:
        """The labels this table neither maps nor ignores, sorted."""
        return sorted({lab for lab in labels if not self.covers(lab)})

    def to_dict(self) -> dict:
        grouped: dict[str, list[str]] = {c: [] for c in self.classes}
        for label, cls in self.mapping.items():
            grouped[cls].append(label)
        return {"name": self.name, "classes": grouped, "ignore": sorted(self.ignore)}

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> Taxonomy:
        if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
            raise TaxonomyError(f"{source}: a taxonomy needs a `classes` mapping")
        mapping: dict[str, str] = {}
        for cls_name, labels in data["classes"].items():
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise TaxonomyError(f"{source}: class {cls_name!r} must list fine labels")
            for label in labels:
                if label in mapping and mapping[label] != cls_name:
                    raise TaxonomyError(
                        f"{source}: label {label!r} is in both {mapping[label]!r} and {cls_name!r}"
                    )
                mapping[label] = str(cls_name)
        ignore = data.get("ignore") or []
        return cls(
            name=str(data.get("name") or Path(source).stem),
            classes=tuple(str(c) for c in data["classes"]),
            mapping=mapping,
            ignore=frozenset(ignore),
        )


def available() -> list[str]:
    """Names of the shipped taxonomies."""
    return sorted([p.stem for p in _HERE.glob("*.yaml")] + ["fine"])


def load_taxonomy(name_or_path: str | Path = DEFAULT) -> Taxonomy:
    """Load a shipped taxonomy by name (`macro17`, `fine`) or a user YAML file by path."""
    if str(name_or_path) == "fine":
        base = load_taxonomy(DEFAULT)
        labels = sorted(base.mapping)
        return Taxonomy("fine", tuple(labels), {lab: lab for lab in labels}, base.ignore)
    path = _HERE / f"{name_or_path}.yaml"
    if not path.exists():
        path = Path(name_or_path)
    if not path.is_file():
        raise TaxonomyError(
            f"{name_or_path}: no such taxonomy (shipped: {', '.join(available())}; or a YAML path)"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: malformed YAML ({str(exc).splitlines()[0]})") from None
    return Taxonomy.from_dict(data, source=str(path))
