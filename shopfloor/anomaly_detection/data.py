"""Milling cuts in, checked sub-cuts out.

A *cut* is one pass of the tool: several signals sampled together (spindle current, vibration, acoustic
emission) and the cut's labels (case, flank wear VB, depth of cut, feed, material). Two sources:

* NASA's original ``mill.mat`` (``load_mat``): a 1 x N struct array ``mill`` with the label fields
  ``case, run, VB, time, DOC, feed, material`` and one field per signal.
* A table with one row per sample (``load_table``): a cut column, the signal columns, and per-cut columns
  (``case``, ``VB``, ``tool_class``, ``DOC``, ``feed``, ``material``, ``window_start``, ``window_end``)
  either repeated on every row or given in a separate labels table joined on the cut column.

``validate`` drops cuts no model should see, naming each in one ``MillingDataWarning``: non-finite values,
absurd values (further from the channel's typical level than ``ABSURD_SPREADS`` times its typical
spread: the published cut 17 holds 1e34), a length unlike the others (cut 94: 15,360 samples where the
rest have 9,000) and constant channels. ``subcuts`` cuts each cut's analysis window (``window_start`` to
``window_end``, the whole cut without them) into windows of ``window`` samples every ``stride`` samples,
64 and 64 as in von Hahn and Mechefske's ``data_prep.py``. ``split`` follows their protocol (sub-cuts
split at random, stratified by tool class: 67 / 16.5 / 16.5 %) or keeps whole cuts together (``"cut"``: no
cut lends sub-cuts to both training and test). ``WindowScaler`` is their min-max scaling per signal, fitted
on training sub-cuts only and not clipped.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import DataError

#: Per-cut label fields of ``mill.mat`` (the first seven fields of its struct), in the file's order.
MAT_LABELS = ("case", "run", "VB", "time", "DOC", "feed", "material")
#: Columns that describe a cut rather than a sample.
PER_CUT = (*MAT_LABELS, "tool_class", "window_start", "window_end")
#: Flank wear (mm) bounds of the tool classes: healthy below 0.2, degraded to 0.7, failed beyond.
WEAR_BOUNDS = (0.2, 0.7)
CLASS_NAMES = ("healthy", "degraded", "failed")
FAILED = 2
#: A value this many typical spreads (median per-cut IQR) away from the channel's typical level is absurd.
ABSURD_SPREADS = 1000.0
#: The most common cut length is enforced only when at least this share of cuts has it.
LENGTH_MAJORITY = 0.75


class MillingDataWarning(UserWarning):
    """Cuts were dropped by ``validate``; the message lists each one and why."""


@dataclass
class MillingData:
    """Cuts and their signals: ``cuts`` has one row per cut (column ``cut`` holds its id), ``signals[i]``
    is the (samples, channels) array of row ``i``."""

    cuts: pd.DataFrame
    signals: list[np.ndarray]
    signal_names: tuple[str, ...]
    cut_column: str = "cut"
    dropped: dict[Any, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cuts)

    def select(self, keep: Sequence[int]) -> MillingData:
        keep = list(keep)
        return MillingData(
            self.cuts.iloc[keep].reset_index(drop=True),
            [self.signals[i] for i in keep],
            self.signal_names,
            self.cut_column,
            dict(self.dropped),
        )

    def with_signals(self, names: Sequence[str]) -> MillingData:
        """The same cuts with only the signals ``names``, in that order (a model's training signals)."""
        missing = [n for n in names if n not in self.signal_names]
        if missing:
            raise DataError(
                "signals",
                f"the data has no signal {missing[0]!r} (it has {', '.join(self.signal_names)}"
                f"); the model was trained on {', '.join(names)}",
                "missing_feature",
            )
        idx = [self.signal_names.index(n) for n in names]
        return MillingData(
            self.cuts, [s[:, idx] for s in self.signals], tuple(names), self.cut_column, dict(self.dropped)
        )


def tool_class(vb: np.ndarray | pd.Series, bounds: tuple[float, float] = WEAR_BOUNDS) -> np.ndarray:
    """0 healthy, 1 degraded, 2 failed from flank wear VB in mm (NaN stays NaN)."""
    vb = np.asarray(vb, dtype=float)
    out = np.where(vb < bounds[0], 0.0, np.where(vb < bounds[1], 1.0, 2.0))
    return np.where(np.isnan(vb), np.nan, out)


def fill_wear(cuts: pd.DataFrame) -> pd.Series:
    """VB of every cut: measured where it was, else interpolated linearly within the case along ``run``
    (``time`` when there is no run), the nearest measurement at a case's ends. NASA measured VB after
    most cuts but not all; von Hahn and Mechefske filled the gaps by hand."""
    order = "run" if "run" in cuts else "time" if "time" in cuts else None
    if "case" not in cuts or order is None:
        return cuts["VB"].astype(float)
    filled = cuts["VB"].astype(float).copy()
    for _, group in cuts.groupby("case"):
        g = group.sort_values(order)
        known = g["VB"].notna().to_numpy()
        if known.any():
            x = g[order].to_numpy(float)
            filled.loc[g.index] = np.interp(x, x[known], g["VB"].to_numpy(float)[known])
    return filled


def _labelled(cuts: pd.DataFrame) -> pd.DataFrame:
    """Add ``tool_class`` from VB where the table has VB but no class."""
    if "tool_class" not in cuts and "VB" in cuts:
        cuts = cuts.assign(tool_class=tool_class(fill_wear(cuts)))
    return cuts


# ------------------------------------------------------------------ loading
def load_mat(path: str | Path) -> MillingData:
    """Cuts from NASA's ``mill.mat`` layout (a ``mill`` struct array: label fields, then one per signal)."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    if not path.is_file():
        raise DataError("data", f"file not found: {path}")
    try:
        content = loadmat(path, struct_as_record=True)
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise DataError("data", f"{path} is not a MATLAB file scipy can read: {exc}"[:300]) from exc
    if "mill" not in content:
        found = [k for k in content if not k.startswith("__")]
        raise DataError(
            "mill",
            f"{path} has no 'mill' struct (variables: {', '.join(found) or 'none'}); the milling "
            "data set's layout is a 1 x N struct array named mill",
        )
    mill = content["mill"]
    fields = mill.dtype.names or ()
    if not fields:
        raise DataError("mill", f"'mill' in {path} is not a struct array")
    records = mill.reshape(-1)
    labels = [f for f in fields if f in MAT_LABELS]
    signal_names = tuple(f for f in fields if f not in MAT_LABELS)
    if not signal_names:
        raise DataError("mill", f"'mill' in {path} has no signal fields (fields: {', '.join(fields)})")
    rows, signals, ragged = [], [], {}
    for j, record in enumerate(records):
        row: dict[str, Any] = {"cut": j}
        for name in labels:
            value = np.asarray(record[name], dtype=float).reshape(-1)
            row[name] = float(value[0]) if value.size == 1 else np.nan
        channels = [np.asarray(record[name], dtype=np.float64).reshape(-1) for name in signal_names]
        lengths = {len(c) for c in channels}
        if len(lengths) != 1:
            ragged[j] = f"signals of different lengths {sorted(lengths)}"
            channels = [c[: min(lengths)] for c in channels]
        rows.append(row)
        signals.append(np.column_stack(channels))
    data = MillingData(_labelled(pd.DataFrame(rows)), signals, signal_names, "cut")
    data.dropped.update(ragged)
    return data


def load_table(
    table: str | Path | pd.DataFrame,
    cut_column: str = "cut_no",
    signals: Sequence[str] | None = None,
    labels: str | Path | pd.DataFrame | None = None,
    time_column: str = "",
) -> MillingData:
    """Cuts from a table with one row per sample, grouped by ``cut_column`` (rows of a cut in time order).

    ``signals`` names the signal columns (default: every numeric column that is not per-cut); per-cut
    columns come from the table itself or from ``labels`` (one row per cut, joined on ``cut_column``).
    ``time_column`` is per cut too (a cut's first value), never a signal.
    """
    from shopfloor.data.ingest import read_table

    frame = table if isinstance(table, pd.DataFrame) else read_table(table)
    if cut_column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:12])) + ("..." if len(frame.columns) > 12 else "")
        raise DataError(
            cut_column,
            f"no cut column named {cut_column!r} (columns: {shown}); name it with --cut-column",
            "missing_feature",
        )
    if frame.empty:
        raise DataError("data", "the table has no rows", "empty")
    per_cut = [c for c in dict.fromkeys((*PER_CUT, time_column)) if c and c in frame.columns]
    if signals is None:
        signals = [
            c
            for c in frame.columns
            if c != cut_column
            and c not in per_cut
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
        ]
    else:
        missing = [s for s in signals if s not in frame.columns]
        if missing:
            raise DataError(missing[0], f"no signal column {missing[0]!r} in the table", "missing_feature")
    if not signals:
        raise DataError("signals", "the table has no numeric signal columns besides the cut column", "missing_feature")
    for name in signals:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            raise DataError(name, f"signal column {name!r} is not numeric (dtype {frame[name].dtype})", "non_numeric")
    groups = frame.groupby(cut_column, sort=True)
    ids = list(groups.groups)
    cuts = groups[per_cut].first().reset_index() if per_cut else pd.DataFrame({cut_column: ids})
    cuts = cuts.rename(columns={cut_column: "cut"})
    if labels is not None:
        extra = labels if isinstance(labels, pd.DataFrame) else read_table(labels)
        if cut_column not in extra.columns:
            raise DataError(cut_column, f"the labels table has no column {cut_column!r} to join on", "missing_feature")
        wanted = (*PER_CUT, time_column)
        extra = extra[[c for c in extra.columns if c == cut_column or (c in wanted and c not in cuts.columns)]]
        cuts = cuts.merge(extra.rename(columns={cut_column: "cut"}), on="cut", how="left")
    values = frame[list(signals)].to_numpy(np.float64)
    positions = groups.indices
    arrays = [values[positions[i]] for i in ids]
    return MillingData(_labelled(cuts), arrays, tuple(signals), cut_column)


def load(
    path: str | Path,
    cut_column: str = "cut_no",
    signals: Sequence[str] | None = None,
    labels: str | Path | None = None,
    time_column: str = "",
) -> MillingData:
    """``load_mat`` for ``.mat`` files, ``load_table`` for CSV and Parquet (``time_column``: a per-cut column kept
    for a time split; in ``mill.mat``, one of its per-cut fields)."""
    path = Path(path)
    if path.suffix.lower() == ".mat":
        data = load_mat(path)
        if labels is not None:  # analysis windows or hand-filled classes from a per-cut table
            extra = load_table_labels(labels, cut_column)
            keep = [c for c in extra.columns if c in ("cut", "tool_class", "window_start", "window_end", time_column)]
            cuts = data.cuts.drop(columns=[c for c in keep if c != "cut" and c in data.cuts])
            data.cuts = cuts.merge(extra[keep], on="cut", how="left")
        return data.with_signals(signals) if signals else data
    return load_table(path, cut_column, signals, labels, time_column)


def load_table_labels(path: str | Path, cut_column: str) -> pd.DataFrame:
    from shopfloor.data.ingest import read_table

    extra = read_table(path)
    if cut_column not in extra.columns:
        raise DataError(cut_column, f"the labels table has no column {cut_column!r}", "missing_feature")
    return extra.rename(columns={cut_column: "cut"})


# ------------------------------------------------------------------ validation
def _describe(value: float) -> str:
    return f"{value:.3g}"


def validate(
    data: MillingData, expected_length: int | str | None = "mode", absurd_spreads: float = ABSURD_SPREADS
) -> MillingData:
    """The cuts worth training on; each dropped cut is named, with its reason, in one warning.

    ``expected_length``: ``"mode"`` drops cuts whose length differs from the most common one when at
    least 75 % of cuts share it; an integer enforces that length; ``None`` accepts any length.
    """
    reasons: dict[int, str] = {}
    ids = data.cuts["cut"].tolist()
    for i, cut in enumerate(ids):
        if cut in data.dropped:
            reasons[i] = data.dropped[cut]
    finite = [i for i, x in enumerate(data.signals) if i not in reasons and np.isfinite(x).all()]
    for i, x in enumerate(data.signals):
        if i not in reasons and i not in finite:
            bad = ~np.isfinite(x)
            first = data.signal_names[int(np.argwhere(bad)[0, 1])]
            reasons[i] = f"{int(bad.sum())} non-finite values (first in {first})"
    if finite:  # typical level and spread of each channel over the finite cuts
        medians = np.array([np.median(data.signals[i], axis=0) for i in finite])
        iqrs = np.array([np.subtract(*np.percentile(data.signals[i], [75, 25], axis=0)) for i in finite])
        level, spread = np.median(medians, axis=0), np.median(iqrs, axis=0)
        spread = np.where(spread > 0, spread, np.maximum(np.abs(level), 1.0) * 1e-6)
        for i in finite:
            x = data.signals[i]
            far = np.max(np.abs(x - level), axis=0) / spread
            worst = int(np.argmax(far))
            if far[worst] > absurd_spreads:
                reasons[i] = (
                    f"values up to {_describe(float(np.max(np.abs(x[:, worst]))))} in "
                    f"{data.signal_names[worst]}, over {absurd_spreads:g} times its usual spread"
                )
                continue
            constant = [data.signal_names[c] for c in range(x.shape[1]) if len(x) and np.ptp(x[:, c]) == 0]
            if constant:
                reasons[i] = f"constant channel {', '.join(constant)}"
    lengths = np.array([len(x) for x in data.signals])
    target = None
    if isinstance(expected_length, int) and not isinstance(expected_length, bool):
        target = expected_length
    elif expected_length == "mode" and len(lengths):
        values, counts = np.unique(lengths, return_counts=True)
        if counts.max() >= LENGTH_MAJORITY * len(lengths):
            target = int(values[np.argmax(counts)])
    if target is not None:
        share = int((lengths == target).sum())
        for i, n in enumerate(lengths):
            if n != target and i not in reasons:
                reasons[i] = f"length {n} where {share} of {len(lengths)} cuts have {target} samples"
    if reasons:
        listed = "; ".join(f"cut {ids[i]} ({why})" for i, why in sorted(reasons.items()))
        if len(reasons) == len(ids):
            raise DataError("cuts", f"no valid cut left of {len(ids)}: {listed}"[:1500], "no_valid_cuts")
        warnings.warn(MillingDataWarning(f"dropped {len(reasons)} of {len(ids)} cuts: {listed}"[:2000]), stacklevel=2)
    keep = [i for i in range(len(ids)) if i not in reasons]
    out = data.select(keep)
    out.dropped = {ids[i]: why for i, why in reasons.items()}
    return out


# ------------------------------------------------------------------ sub-cuts
@dataclass
class SubCuts:
    """Windows of every cut: ``X`` (n, window, signals) float32 and ``meta``, one row per window (the
    cut's labels plus ``position``, the window's index within its cut)."""

    X: np.ndarray
    meta: pd.DataFrame
    signal_names: tuple[str, ...]
    stride: int = 0

    def __len__(self) -> int:
        return len(self.X)

    def take(self, index: np.ndarray) -> SubCuts:
        return SubCuts(self.X[index], self.meta.iloc[index].reset_index(drop=True), self.signal_names, self.stride)

    @property
    def failed(self) -> np.ndarray:
        """1 where the window's cut is in the failed class (the anomaly to detect), else 0."""
        return (self.meta["tool_class"].to_numpy() == FAILED).astype(int)


def window_count(samples: int, window: int, stride: int) -> int:
    return 0 if samples < window else (samples - window) // stride + 1


def subcuts(data: MillingData, window: int = 64, stride: int = 64) -> SubCuts:
    """Windows of ``window`` samples every ``stride`` samples over each cut's analysis window; a cut too
    short for one window is a ``DataError`` naming it."""
    if window < 2 or stride < 1:
        raise DataError("window", f"window must be at least 2 and stride at least 1, got {window} and {stride}")
    blocks, owners, positions = [], [], []
    for i, x in enumerate(data.signals):
        row = data.cuts.iloc[i]
        start = _bound(row.get("window_start"), 0)
        end = _bound(row.get("window_end"), len(x))
        segment = x[max(0, start) : min(len(x), end)]
        count = window_count(len(segment), window, stride)
        if count == 0:
            raise DataError(
                f"cut {row['cut']}",
                f"its analysis window holds {len(segment)} samples, fewer than one window of {window}",
                "too_short",
            )
        view = np.lib.stride_tricks.sliding_window_view(segment, window, axis=0)[::stride][:count]
        blocks.append(np.ascontiguousarray(view.transpose(0, 2, 1), dtype=np.float32))
        owners.append(np.full(count, i))
        positions.append(np.arange(count))
    meta = data.cuts.iloc[np.concatenate(owners)].reset_index(drop=True)  # keeps each column's type
    meta["position"] = np.concatenate(positions)
    return SubCuts(np.concatenate(blocks), meta, data.signal_names, stride)


def _bound(value: Any, default: int) -> int:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return default
    return int(value)


# ------------------------------------------------------------------ splits
SPLITS = ("auto", "cut", "time", "subcut")
SHARES = (0.33, 0.5)  # held out of all, then the test's share of what is held out (von Hahn and Mechefske's)


def split_protocol(requested: str, time_column: str) -> str:
    """The split ``requested`` names (``auto``: time when a time column is named, else whole cuts at random)."""
    if requested == "auto":
        return "time" if time_column else "cut"
    if requested == "time" and not time_column:
        raise DataError("split", "a time split needs --time-column: the column of when each cut was made")
    return requested


def split(sub: SubCuts, protocol: str = "cut", seed: int = 0, time_column: str = "") -> dict[str, np.ndarray]:
    """Indices of the train, valid and test sub-cuts.

    ``"subcut"``: von Hahn and Mechefske's protocol: sub-cuts split at random, stratified by tool class, 67 % train,
    then the rest halved (random states 15 and 10, as von Hahn and Mechefske's notebook, whatever ``seed``).
    ``"cut"``: whole cuts assigned, stratified by tool class, in the same shares (``seed`` draws them):
    no cut contributes sub-cuts to two splits.
    ``"time"``: whole cuts in the same shares in order of ``time_column``: the earliest train, the latest test, so
    a detector is scored on cuts made after every cut it learned from. ``"auto"``: time given a time column.
    """
    from sklearn.model_selection import train_test_split

    protocol = split_protocol(protocol, time_column)

    if "tool_class" not in sub.meta or sub.meta["tool_class"].isna().any():
        raise DataError(
            "tool_class",
            "every cut needs a tool class (or a VB column to derive it from) to split and evaluate",
            "missing_label",
        )
    classes = sub.meta["tool_class"].to_numpy().astype(int)
    if protocol == "subcut":
        idx = np.arange(len(sub))
        train, rest = train_test_split(idx, test_size=0.33, random_state=15, stratify=classes)
        valid, test = train_test_split(rest, test_size=0.5, random_state=10, stratify=classes[rest])
        return {"train": np.sort(train), "valid": np.sort(valid), "test": np.sort(test)}
    if protocol == "time":
        return _time_split(sub, time_column)
    if protocol != "cut":
        raise DataError("split", f"unknown split {protocol!r}; choose one of {', '.join(SPLITS)}")
    per_cut = sub.meta.groupby("cut")["tool_class"].first()
    cuts, labels = per_cut.index.to_numpy(), per_cut.to_numpy().astype(int)
    strat = labels if np.bincount(labels).min() >= 3 else None
    train, rest = train_test_split(cuts, test_size=0.33, random_state=seed, stratify=strat)
    rest_labels = per_cut.loc[rest].to_numpy().astype(int)
    strat = rest_labels if np.bincount(rest_labels).min() >= 2 else None
    valid, test = train_test_split(rest, test_size=0.5, random_state=seed, stratify=strat)
    where = sub.meta["cut"].to_numpy()
    return {
        name: np.flatnonzero(np.isin(where, part))
        for name, part in (("train", train), ("valid", valid), ("test", test))
    }


# ------------------------------------------------------------------ scaling
def _time_split(sub: SubCuts, time_column: str) -> dict[str, np.ndarray]:
    """Whole cuts in order of their time: as many held out as the random split holds out (``SHARES``, rounded as
    scikit-learn rounds them), the latest of them the test."""
    from math import ceil

    from shopfloor.data.ingest import time_values

    if time_column not in sub.meta.columns:
        raise DataError(time_column, "time column not found among the cuts' columns", "missing_feature")
    per_cut = sub.meta.groupby("cut", sort=True)[time_column].first().reset_index()
    order = np.argsort(time_values(per_cut, time_column).to_numpy(), kind="stable")
    cuts = per_cut["cut"].to_numpy()[order]
    held = ceil(SHARES[0] * len(cuts))
    tested = ceil(SHARES[1] * held)
    parts = {"train": cuts[: len(cuts) - held], "valid": cuts[len(cuts) - held : len(cuts) - tested]}
    parts["test"] = cuts[len(cuts) - tested :]
    where = sub.meta["cut"].to_numpy()
    return {name: np.flatnonzero(np.isin(where, part)) for name, part in parts.items()}


class WindowScaler:
    """Min-max scaling per signal, ``(x - min) / (max - min)`` with min and max over the fitted windows.

    As in von Hahn and Mechefske, values outside the fitted range are not clipped: a worn tool's larger current shows
    as values above 1, which is information, not an error."""

    def fit(self, X: np.ndarray) -> WindowScaler:
        flat = X.reshape(-1, X.shape[-1]).astype(np.float64)
        self.min_ = flat.min(axis=0)
        span = flat.max(axis=0) - self.min_
        self.scale_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.min_) / self.scale_).astype(np.float32)


# ------------------------------------------------------------------ files
def save_subcuts(sub: SubCuts, path: str | Path) -> None:
    """One ``.npz`` file: the windows, the signal names and each ``meta`` column (no pickled objects)."""
    columns = {
        f"meta__{c}": (
            sub.meta[c].to_numpy()
            if pd.api.types.is_numeric_dtype(sub.meta[c])
            else sub.meta[c].astype(str).to_numpy(dtype=str)
        )
        for c in sub.meta.columns
    }
    with open(path, "wb") as handle:  # a file object: numpy would add ".npz" to a KFP path without suffix
        np.savez(handle, X=sub.X, signals=np.array(sub.signal_names), stride=np.array(sub.stride), **columns)


def load_subcuts(path: str | Path) -> SubCuts:
    with np.load(path, allow_pickle=False) as data:
        meta = pd.DataFrame({k[len("meta__") :]: data[k] for k in data.files if k.startswith("meta__")})
        return SubCuts(data["X"], meta, tuple(str(s) for s in data["signals"]), int(data["stride"]))
