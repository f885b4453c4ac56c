"""The synthesizer interface, in SDV's style: ``fit(table)``, ``sample(n)``, ``save``, ``load``,
``get_parameters``.

The base owns what every synthesizer shares: its settings (a config dataclass plus keyword overrides),
the seed, a per-epoch ``history`` of the same shape for all (``{"epoch": k, <loss name>: value}``), the
epoch callback that tuning uses to report and prune, and saving. A subclass names its ``Config``,
implements ``fit``/``sample`` and declares its Optuna ``search_space``; registering it in
``shopfloor.synth.registry`` makes it a choice of the pipeline.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch

from shopfloor.errors import DataError
from shopfloor.settings import with_overrides


class Synthesizer(abc.ABC):
    """Learns the distribution of a numeric table and samples new rows with the same columns."""

    #: The settings dataclass of this synthesizer (every field has a default).
    Config: ClassVar[type]
    #: Shown on progress bars.
    label: ClassVar[str] = "synthesizer"

    def __init__(self, config: Any = None, seed: int = 0, progress: bool = True, **overrides: Any) -> None:
        self.config = with_overrides(config, self.Config, overrides)
        self.seed = seed
        self.progress = progress
        self.columns: list[str] = []
        self.history: list[dict[str, float]] = []
        #: Called with the epoch index after each training epoch (tuning uses it to report and prune).
        self.callback: Callable[[int], None] | None = None

    # ------------------------------------------------------------ the interface
    @abc.abstractmethod
    def fit(self, table: pd.DataFrame) -> Synthesizer:
        """Learn from ``table`` (numeric columns only); returns ``self``."""

    @abc.abstractmethod
    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        """Draw ``num_rows`` rows; the same ``seed`` gives the same rows (default: the fit seed)."""

    @staticmethod
    @abc.abstractmethod
    def search_space(trial, max_epochs: int) -> dict[str, Any]:
        """Settings for one Optuna trial (names of ``Config`` fields), with at most ``max_epochs`` epochs."""

    def get_parameters(self) -> dict[str, Any]:
        """Settings in SDV's style, for logging."""
        return {**dataclasses.asdict(self.config), "seed": self.seed}

    # ------------------------------------------------------------ shared mechanics
    def _start_history(self) -> None:
        self.history = []

    def _end_epoch(self, epoch: int, **losses: float) -> None:
        """Record one epoch's losses and call the tuning callback."""
        self.history.append({"epoch": epoch, **{k: float(v) for k, v in losses.items()}})
        if self.callback is not None:
            self.callback(epoch)

    def _epochs(self, epochs: int):
        """The epoch loop with this synthesizer's progress bar."""
        from shopfloor.progress import bar

        return bar(range(epochs), desc=self.label, unit="epoch", enabled=self.progress)

    def _sampling_rng(self, seed: int | None) -> torch.Generator:
        """The noise generator of one ``sample`` call: seeded by ``seed``, else by the fit seed."""
        if not self.columns:
            raise RuntimeError("fit the synthesizer before sampling")
        return torch.Generator().manual_seed(self.seed if seed is None else seed)

    def save(self, path: str | Path) -> None:
        """Write the fitted synthesizer to one file."""
        callback, self.callback = self.callback, None  # closures over a study do not pickle
        try:
            torch.save(self, Path(path))
        finally:
            self.callback = callback

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """Read a synthesizer written by ``save``."""
        obj = torch.load(Path(path), weights_only=False)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj


def epoch_budget(trial, max_epochs: int) -> int:
    """The epochs of one trial: log-uniform between an eighth of ``max_epochs`` and ``max_epochs``."""
    if max_epochs < 1:
        raise ValueError("max_epochs must be positive")
    return trial.suggest_int("epochs", max(1, max_epochs // 8), max_epochs, log=True)


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
