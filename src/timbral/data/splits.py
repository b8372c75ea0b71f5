"""Train/val/test split of a manifest: grouped, multilabel-stratified, seeded, leak-checked.

Grouped modes ("artist", the default, and "track") keep every file of a group on one side.
They stratify *groups*, not rows: each group carries the per-class count of its rows, groups
are dealt to the sides by iterative stratification (Sechidis et al., 2011) generalised to
those counts, and a local search then moves or swaps whole groups while that brings every
class's share of rows closer to the target fractions. Rows inherit their group's side.

The "clip" mode splits row by row with `iterstrat`, as the reference study did. It exists to
reproduce that protocol only: files of one song land on several sides, so scores measured on
it are optimistic.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from timbral.data.manifest import Manifest
from timbral.data.medleydb import artist_of
from timbral.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
GROUPS = ("artist", "track", "clip")
FRACTIONS = (0.6, 0.24, 0.16)
_MAX_SEARCH_STEPS = 2000
_RESTARTS = 10  # stratify + refine this many times from the seed; keep the closest to target


def group_keys(rows: pd.DataFrame, group: str = "artist") -> np.ndarray:
    """The grouping key of each row: its artist, its track id, or its own position ("clip")."""
    _check_group(group)
    if group == "clip":
        return np.arange(len(rows)).astype(str)
    if "track_id" not in rows:
        raise DatasetError(f"split by {group}: the rows have no `track_id` column")
    if group == "track":
        return rows["track_id"].astype(str).to_numpy()
    if "artist" in rows:
        return rows["artist"].astype(str).to_numpy()
    return rows["track_id"].astype(str).map(artist_of).to_numpy()


def split_manifest(
    manifest_or_rows: Manifest | pd.DataFrame,
    y: np.ndarray | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = FRACTIONS,
    group: str = "artist",
) -> np.ndarray:
    """Assign each row to "train", "val" or "test"; returns an array aligned with the rows.

    `y` (rows x classes, multi-hot) defaults to the manifest's matrix, or to one built from a
    `classes` column. The same inputs and seed always give the same split.
    """
    rows, y = _rows_and_y(manifest_or_rows, y)
    _check_group(group)
    r = _check_fractions(fractions)
    if len(rows) == 0:
        raise DatasetError("split: the manifest has no rows")
    rng = np.random.default_rng(seed)
    if group == "clip":
        log.warning(
            "clip-level split: files of one song land on several sides (it leaks songs); "
            "use it only to reproduce the reference protocol"
        )
        side = _clip_split(y, r, seed)
    else:
        keys = group_keys(rows, group)
        codes, uniques = pd.factorize(keys)
        if len(uniques) < len(SPLITS):
            raise DatasetError(
                f"split: {len(uniques)} {group}(s) cannot fill {len(SPLITS)} sides; "
                "use a finer grouping or more tracks"
            )
        counts = np.zeros((len(uniques), y.shape[1]))
        np.add.at(counts, codes, y)
        sizes = np.bincount(codes, minlength=len(uniques)).astype(float)
        side = _grouped_split(counts, sizes, r, rng)[codes]
    return np.asarray(SPLITS, dtype=object)[side]


def check_no_leak(rows: pd.DataFrame, split: np.ndarray, group: str = "artist") -> None:
    """Raise DatasetError naming every group (artist or track) found on more than one side."""
    if group == "clip":
        raise ConfigError("check_no_leak: a clip-level split leaks by design; check 'track' or 'artist'")
    keys = group_keys(rows, group)
    split = np.asarray(split)
    if len(split) != len(keys):
        raise DatasetError(f"check_no_leak: {len(split)} split labels for {len(keys)} rows")
    sides = pd.Series(split).groupby(keys).unique()
    leaks = {k: sorted(v) for k, v in sides.items() if len(v) > 1}
    if leaks:
        shown = "; ".join(f"{k} in {'+'.join(v)}" for k, v in list(leaks.items())[:10])
        more = f" and {len(leaks) - 10} more" if len(leaks) > 10 else ""
        raise DatasetError(f"split leaks {len(leaks)} {group}(s) across sides: {shown}{more}")


def split_counts(
    rows_or_y: Manifest | pd.DataFrame | np.ndarray, split: np.ndarray, classes: list[str] | None = None
) -> pd.DataFrame:
    """Per-class row counts per side, with each side's share of the class (index: class)."""
    if isinstance(rows_or_y, np.ndarray):
        y = rows_or_y
        if classes is None:
            raise ConfigError("split_counts: pass `classes` with a label matrix")
    else:
        rows, y = _rows_and_y(rows_or_y, None)
        classes = classes or _classes_of(rows_or_y)
    y = np.asarray(y) > 0
    split = np.asarray(split)
    if y.shape[0] != len(split) or y.shape[1] != len(classes):
        raise DatasetError(
            f"split_counts: labels {y.shape} do not match {len(split)} rows x {len(classes)} classes"
        )
    table = pd.DataFrame(
        {side: y[split == side].sum(axis=0) for side in SPLITS}, index=pd.Index(classes, name="class")
    )
    table["total"] = table[list(SPLITS)].sum(axis=1)
    for side in SPLITS:
        table[f"{side}_frac"] = (table[side] / table["total"].where(table["total"] > 0)).round(3)
    return table


def _check_group(group: str) -> None:
    if group not in GROUPS:
        raise ConfigError(f"split group: {group!r} not among {', '.join(GROUPS)}")


def _check_fractions(fractions) -> np.ndarray:
    r = np.asarray(fractions, dtype=float)
    if r.shape != (3,) or np.any(r <= 0) or not np.isclose(r.sum(), 1.0):
        raise ConfigError(f"split fractions: need three positive numbers summing to 1, got {fractions}")
    return r


def _classes_of(obj) -> list[str]:
    if isinstance(obj, Manifest):
        return list(obj.classes)
    return sorted({c for cs in obj["classes"] for c in cs})


def _rows_and_y(obj, y) -> tuple[pd.DataFrame, np.ndarray]:
    if isinstance(obj, Manifest):
        rows, y = obj.rows, obj.y if y is None else y
    elif isinstance(obj, pd.DataFrame):
        rows = obj
        if y is None:
            if "classes" not in rows:
                raise DatasetError("split: give `y` or rows with a `classes` column")
            index = {c: i for i, c in enumerate(_classes_of(rows))}
            y = np.zeros((len(rows), len(index)))
            for i, cs in enumerate(rows["classes"]):
                y[i, [index[c] for c in cs]] = 1
    else:
        raise ConfigError(f"split: expected a Manifest or a DataFrame, got {type(obj).__name__}")
    y = np.asarray(y, dtype=float)
    if y.ndim != 2 or y.shape[0] != len(rows):
        raise DatasetError(f"split: labels of shape {y.shape} do not match {len(rows)} rows")
    return rows, y


def _clip_split(y: np.ndarray, r: np.ndarray, seed: int) -> np.ndarray:
    """Row-level split in two stages, as the reference did: train vs rest, then val vs test."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    side = np.zeros(len(y), dtype=int)
    if len(y) < 3:
        raise DatasetError(f"split: {len(y)} row(s) cannot fill {len(SPLITS)} sides")
    x = np.zeros((len(y), 1))
    first = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=1 - r[0], random_state=seed)
    _, rest = next(first.split(x, y > 0))
    second = MultilabelStratifiedShuffleSplit(
        n_splits=1, test_size=r[2] / (r[1] + r[2]), random_state=seed
    )
    val, test = next(second.split(x[rest], y[rest] > 0))
    side[rest[val]] = 1
    side[rest[test]] = 2
    return side


def _grouped_split(
    counts: np.ndarray, sizes: np.ndarray, r: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Best of `_RESTARTS` stratified-then-refined assignments of groups to sides."""
    best, best_cost = None, np.inf
    for _ in range(_RESTARTS):
        side = _refine(counts, sizes, r, _iterative_groups(counts, sizes, r, rng))
        cost = _cost(counts, sizes, r, side)
        if cost < best_cost - 1e-12:
            best, best_cost = side, cost
    return best


def _shares(counts: np.ndarray, sizes: np.ndarray, r: np.ndarray, side: np.ndarray):
    data = np.column_stack([counts, sizes])  # the row total is one more "class"
    total = data.sum(axis=0)
    scale = np.where(total > 0, 1.0 / np.maximum(total, 1e-12), 0.0)
    have = np.stack([data[side == s].sum(axis=0) for s in range(len(r))])
    return data * scale, (have - np.outer(r, total)) * scale


def _cost(counts: np.ndarray, sizes: np.ndarray, r: np.ndarray, side: np.ndarray) -> float:
    """Sum over sides and classes of the squared gap between share and target fraction."""
    return float((_shares(counts, sizes, r, side)[1] ** 2).sum())


def _iterative_groups(
    counts: np.ndarray, sizes: np.ndarray, r: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Iterative stratification over groups, weighting each group by its per-class row counts.

    As in Sechidis et al.: take the class with the fewest rows still to place, deal the groups
    carrying it (in random order) to the side that most lacks that class (ties: the side that
    lacks most rows, then random), and update what every side still lacks.
    """
    n = len(counts)
    want = np.outer(r, counts.sum(axis=0))
    want_rows = r * sizes.sum()
    side = np.full(n, -1)
    left = np.ones(n, dtype=bool)
    while left.any():
        remaining = counts[left].sum(axis=0)
        if not remaining.any():  # groups with no class: fill by size
            for i in rng.permutation(np.flatnonzero(left)):
                s = _pick(np.flatnonzero(want_rows == want_rows.max()), rng)
                side[i], left[i] = s, False
                want_rows[s] -= sizes[i]
            break
        rarest = np.flatnonzero(remaining == remaining[remaining > 0].min())
        c = _pick(rarest, rng)
        for i in rng.permutation(np.flatnonzero(left & (counts[:, c] > 0))):
            best = np.flatnonzero(want[:, c] == want[:, c].max())
            if len(best) > 1:
                best = best[want_rows[best] == want_rows[best].max()]
            s = _pick(best, rng)
            side[i], left[i] = s, False
            want[s] -= counts[i]
            want_rows[s] -= sizes[i]
    return side


def _pick(candidates: np.ndarray, rng: np.random.Generator) -> int:
    return int(candidates[0] if len(candidates) == 1 else rng.choice(candidates))


def _refine(counts: np.ndarray, sizes: np.ndarray, r: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Local search: apply the single move or swap of whole groups that most reduces `_cost`,
    until none does, keeping at least one group on every side. Deterministic given the
    starting assignment.

    With w_i a group's shares and g_s a side's gap, moving i from a to b changes the cost by
    2|w_i|^2 + 2(g_b - g_a).w_i; swapping i (on a) with j (on b) by
    2|w_i - w_j|^2 + 2(g_b - g_a).(w_i - w_j).
    """
    side = side.copy()
    n = len(side)
    w, gap = _shares(counts, sizes, r, side)
    norms = (w**2).sum(axis=1)
    dist = norms[:, None] + norms[None, :] - 2 * (w @ w.T)  # |w_i - w_j|^2
    for _ in range(_MAX_SEARCH_STEPS + len(r)):
        gw = gap @ w.T  # (sides, n): g_s . w_i
        move = 2 * norms[:, None] + 2 * (gw.T - gw[side, np.arange(n)][:, None])
        move[np.arange(n), side] = np.inf
        per_side = np.bincount(side, minlength=len(r))
        move[per_side[side] <= 1, :] = np.inf  # never empty a side
        empty = np.flatnonzero(per_side == 0)
        if len(empty):  # first give every side a group: the cheapest move into it
            b = int(empty[0])
            i = int(np.argmin(move[:, b]))
            side[i] = b
            gap = _shares(counts, sizes, r, side)[1]
            continue
        i, b = np.unravel_index(np.argmin(move), move.shape)
        # (g_b - g_a).(w_i - w_j) with a = side[i], b = side[j]
        g_of_j = gw[side]  # (n, n): row k holds g_{side[k]} . w_m for every m
        cross = g_of_j.T - gw[side, np.arange(n)][:, None]  # (g_b - g_a).w_i, indexed [i, j]
        cross -= g_of_j[np.arange(n), np.arange(n)][None, :] - g_of_j  # minus (g_b - g_a).w_j
        swap = 2 * dist + 2 * cross
        swap[side[:, None] == side[None, :]] = np.inf
        si, sj = np.unravel_index(np.argmin(swap), swap.shape)
        if min(move[i, b], swap[si, sj]) >= -1e-12:
            break
        if move[i, b] <= swap[si, sj]:
            side[i] = b
        else:
            side[si], side[sj] = side[sj], side[si]
        gap = _shares(counts, sizes, r, side)[1]
    return side
