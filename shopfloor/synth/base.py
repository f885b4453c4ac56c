"""The synthesizer interface, in SDV's style: ``fit(table)``, ``sample(n)``, ``save``, ``load``,
``get_parameters``. Tables may mix continuous, integer, categorical and boolean columns
(``shopfloor.synth.table``); sampled rows have the same columns, kinds and dtypes.

The base owns what every synthesizer shares: its settings (a config dataclass plus keyword overrides),
the seed, a per-epoch ``history`` of the same shape for all (``{"epoch": k, <loss name>: value}``), the
epoch callback that tuning uses to report and prune, and saving. A subclass names its ``Config``,
implements ``fit``/``sample`` and declares its Optuna ``search_space``; registering it in
``shopfloor.synth.catalog`` makes it a choice of the pipeline.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import torch

from shopfloor.defaults import with_overrides
from shopfloor.errors import DataError
from shopfloor.synth.table import ColumnSpec


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
        self.total_epochs = 0
        #: Called with the epoch index after each training epoch (tuning uses it to report and prune).
        self.callback: Callable[[int], None] | None = None

    # ------------------------------------------------------------ the interface
    @abc.abstractmethod
    def fit(self, table: pd.DataFrame, specs: list[ColumnSpec] | None = None) -> Synthesizer:
        """Learn from ``table``; ``specs`` gives each column's kind (default: detected from the dtypes)."""

    @abc.abstractmethod
    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        """Draw ``num_rows`` rows; the same ``seed`` gives the same rows (default: the fit seed)."""

    @staticmethod
    @abc.abstractmethod
    def search_space(trial, max_steps: int) -> dict[str, Any]:
        """Settings for one Optuna trial (names of ``Config`` fields), with at most ``max_steps`` steps."""

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

    def _plan(self, rows: int, batch: int, steps: int) -> tuple[int, int]:
        """(epochs, steps per epoch) for a budget of ``steps`` optimizer steps over ``rows`` rows in batches
        of ``batch``: budgets count steps, so a minority table of 40 rows trains as long as one of 4,000."""
        per_epoch = max(1, rows // max(1, batch))
        self.total_epochs = max(1, math.ceil(steps / per_epoch))
        return self.total_epochs, per_epoch

    def _epochs(self, epochs: int):
        """The epoch loop with this synthesizer's progress bar."""
        from shopfloor.progress import bar

        self.total_epochs = epochs
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


def step_budget(trial, max_steps: int) -> int:
    """The optimizer steps of one trial: log-uniform between an eighth of ``max_steps`` and ``max_steps``."""
    if max_steps < 8:
        raise DataError("max-steps", f"must be at least 8, got {max_steps}")
    return trial.suggest_int("steps", max_steps // 8, max_steps, log=True)
