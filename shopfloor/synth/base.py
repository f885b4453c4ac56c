"""The synthesizer interface, in SDV's style: ``fit(table)``, ``sample(n)``, ``save``, ``load``."""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch

from shopfloor.errors import DataError


class Synthesizer(abc.ABC):
    """Learns the distribution of a numeric table and samples new rows with the same columns."""

    columns: list[str]
    #: Called with the epoch index after each training epoch (tuning uses it to report and prune).
    callback: "Callable[[int], None] | None" = None

    @abc.abstractmethod
    def fit(self, table: pd.DataFrame) -> "Synthesizer":
        """Learn from ``table`` (numeric columns only); returns ``self``."""

    @abc.abstractmethod
    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        """Draw ``num_rows`` rows; the same ``seed`` gives the same rows (default: the fit seed)."""

    def save(self, path: str | Path) -> None:
        """Write the fitted synthesizer to one file."""
        callback, self.callback = self.callback, None  # closures over a study do not pickle
        try:
            torch.save(self, Path(path))
        finally:
            self.callback = callback

    def _sampling_rng(self, seed: int | None) -> torch.Generator:
        """The noise generator of one ``sample`` call: seeded by ``seed``, else by the fit seed."""
        if not self.columns:
            raise RuntimeError("fit the synthesizer before sampling")
        return torch.Generator().manual_seed(self.seed if seed is None else seed)

    def _end_epoch(self, epoch: int) -> None:
        if self.callback is not None:
            self.callback(epoch)

    @classmethod
    def load(cls, path: str | Path) -> "Synthesizer":
        """Read a synthesizer written by ``save``."""
        obj = torch.load(Path(path), weights_only=False)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj


def check_numeric_table(table: pd.DataFrame, min_rows: int = 2) -> None:
    """Reject tables a synthesizer cannot learn from, naming the offending column."""
    if len(table) < min_rows:
        raise DataError("table", f"needs at least {min_rows} rows to fit, got {len(table)}")
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise DataError(str(column), "synthesizers take numeric columns only")
        if table[column].isna().any():
            raise DataError(str(column), "synthesizers take no missing values; impute first")


def restore_dtypes(frame: pd.DataFrame, dtypes: dict) -> pd.DataFrame:
    """Cast sampled columns back to the fitted table's dtypes, rounding integer columns first."""
    out = frame.copy()
    for column, dtype in dtypes.items():
        if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            out[column] = out[column].round()
        out[column] = out[column].astype(dtype)
    return out
