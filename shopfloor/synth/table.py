"""Mixed-type tables for the synthesizers: what each column is, and the continuous matrix a network sees.

A factory table holds continuous measurements, integer counts (tool wear in minutes, a cycle count),
categories (a product variant) and flags. A network generates real numbers, so each kind is mapped to
them and back:

* continuous: scaled (min-max to [-1, 1] for a tanh generator, or standardized for a flow);
* integer: scaled like a continuous column; back by rounding (or, for a flow trained on dequantized
  values ``x + u``, ``u ~ U(0, 1)``, by flooring), clipped to the observed range;
* categorical and boolean: one one-hot block each; back by the block's argmax, so a generated row always
  holds a category seen in training (for a flow the one-hot values are dequantized the same way).

``detect`` reads the kinds from the frame's dtypes (object or category: categorical, bool: boolean,
integer: integer, float: continuous), as SDV's metadata detection does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopfloor.errors import DataError

KINDS = ("continuous", "integer", "categorical", "boolean")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str
    categories: tuple = ()  # categorical/boolean: the values, in one-hot order

    @property
    def discrete(self) -> bool:
        return self.kind in ("categorical", "boolean")


def detect(frame: pd.DataFrame) -> list[ColumnSpec]:
    """The kind of each column of ``frame`` from its dtype (see the module docstring)."""
    specs = []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            specs.append(ColumnSpec(str(column), "boolean", (False, True)))
        elif pd.api.types.is_integer_dtype(values):
            specs.append(ColumnSpec(str(column), "integer"))
        elif pd.api.types.is_numeric_dtype(values):
            specs.append(ColumnSpec(str(column), "continuous"))
        else:
            specs.append(ColumnSpec(str(column), "categorical", tuple(sorted(values.dropna().astype(str).unique()))))
    return specs


def check_table(table: pd.DataFrame, min_rows: int = 2) -> None:
    """Reject tables a synthesizer cannot learn from, naming the offending column."""
    if len(table) < min_rows:
        raise DataError("table", f"needs at least {min_rows} rows to fit, got {len(table)}")
    for column in table.columns:
        if table[column].isna().any():
            raise DataError(str(column), "synthesizers take no missing values; impute first")


class TableEncoder:
    """A mixed-type table <-> a float matrix: numeric columns scaled, discrete columns one-hot.

    ``scaling`` is "minmax" ([-1, 1], for tanh outputs) or "standard" (zero mean, unit variance, for a
    flow); ``dequantize`` makes ``encode`` add ``U(0, 1)`` noise to integer values and one-hot entries
    when given a random generator, and ``decode`` floor instead of round.
    """

    def __init__(self, scaling: str = "minmax", dequantize: bool = False) -> None:
        if scaling not in ("minmax", "standard"):
            raise ValueError("scaling must be 'minmax' or 'standard'")
        self.scaling, self.dequantize = scaling, dequantize

    def fit(self, table: pd.DataFrame, specs: list[ColumnSpec] | None = None) -> TableEncoder:
        check_table(table)
        self.specs = specs or detect(table)
        self.columns = [s.name for s in self.specs]
        self.dtypes = table[self.columns].dtypes.to_dict()
        self.numeric = [s for s in self.specs if not s.discrete]
        self.discrete = [s for s in self.specs if s.discrete]
        numbers = self._numbers(table, None)
        self.low, self.high = numbers.min(axis=0), numbers.max(axis=0)
        if self.scaling == "minmax":
            self.center = (self.high + self.low) / 2.0
            half = (self.high - self.low) / 2.0
            self.scale = np.where(half > 0, half, 1.0)
        else:
            self.center = numbers.mean(axis=0)
            std = numbers.std(axis=0)
            self.scale = np.where(std > 1e-12, std, 1.0)
        self.blocks: list[tuple[ColumnSpec, slice]] = []
        start = len(self.numeric)
        for spec in self.discrete:
            self.blocks.append((spec, slice(start, start + len(spec.categories))))
            start += len(spec.categories)
        self.dim = start
        self._observed = {s.name: (table[s.name].min(), table[s.name].max()) for s in self.numeric}
        return self

    def _numbers(self, table: pd.DataFrame, rng: np.random.Generator | None) -> np.ndarray:
        x = table[[s.name for s in self.numeric]].to_numpy(dtype=np.float64)
        if rng is not None and self.dequantize:
            integer = np.array([s.kind == "integer" for s in self.numeric])
            x = x + integer * rng.random(x.shape)
        return x

    def encode(self, table: pd.DataFrame, rng: np.random.Generator | None = None) -> np.ndarray:
        """The (n, dim) float matrix of ``table``: scaled numbers, then one one-hot block per discrete column."""
        out = np.zeros((len(table), self.dim))
        out[:, : len(self.numeric)] = (self._numbers(table, rng) - self.center) / self.scale
        for spec, block in self.blocks:
            values = table[spec.name]
            codes = {c: k for k, c in enumerate(spec.categories)}
            keys = values if spec.kind == "boolean" else values.astype(str)
            index = np.array([codes.get(v, -1) for v in keys])
            if (index < 0).any():
                raise DataError(spec.name, f"value {keys.iloc[int(np.argmax(index < 0))]!r} was not seen in fit")
            out[np.arange(len(table)), block.start + index] = 1.0
        if rng is not None and self.dequantize and self.blocks:
            onehot = slice(len(self.numeric), self.dim)
            out[:, onehot] += rng.random((len(table), self.dim - len(self.numeric)))
        return out

    def decode(self, z: np.ndarray) -> pd.DataFrame:
        """A table of the fitted columns and dtypes from an (n, dim) matrix: numbers unscaled (integers
        rounded, or floored when dequantized, and clipped to the observed range), blocks by argmax."""
        z = np.asarray(z, dtype=np.float64)
        data: dict[str, object] = {}
        numbers = z[:, : len(self.numeric)] * self.scale + self.center
        for j, spec in enumerate(self.numeric):
            values = numbers[:, j]
            low, high = self._observed[spec.name]
            if spec.kind == "integer":
                values = np.floor(values) if self.dequantize else np.round(values)
                values = np.clip(values, low, high)
            data[spec.name] = values
        for spec, block in self.blocks:
            data[spec.name] = np.asarray(spec.categories, dtype=object)[z[:, block].argmax(axis=1)]
        frame = pd.DataFrame(data)[self.columns]
        for column, dtype in self.dtypes.items():
            frame[column] = frame[column].astype(dtype)
        return frame
