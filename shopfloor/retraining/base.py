"""What every kind of model answers for its retraining: ``KindRetrainer``, the class each kind's retrainer extends.

A retraining run checks the new rows and splits them into adaptation and held-out rows, builds a challenger
from the champion on the adaptation rows, and scores champion and challenger on the same held-out rows
(``shopfloor.retraining.workflow``), asking the kind's retrainer at each step and never branching on the kind. A fault
classifier's rows are a labelled table, split stratified; the other kinds' rows are what each learns from,
whole: run-to-failure units (health index), sub-cuts of labelled cuts (anomaly detector), wear curves
(prognosis). Those are split by group (a unit, a cut, a tool), never through one: the held-out rows are
machines the challenger has not seen. This module imports no retrainer; ``shopfloor.kinds`` lists them.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shopfloor.constants import RETRAIN_METRICS_BY_KIND
from shopfloor.errors import DataError


def split_groups(
    groups: pd.Series, positive: pd.Series | None, holdout_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row masks (adapt, holdout) with whole groups on one side. With ``positive`` (one flag per row, true for a
    group's rare class, e.g. a failed tool), groups with and without it are split separately, so both sides
    hold some of each where there are two or more."""
    rng = np.random.default_rng(seed)
    keys = pd.unique(groups)
    flagged = set(groups[positive.astype(bool)].unique()) if positive is not None else set()
    held: list = []
    for part in ([k for k in keys if k in flagged], [k for k in keys if k not in flagged]):
        if len(part) < 2:
            continue
        count = min(len(part) - 1, max(1, int(round(holdout_size * len(part)))))
        held += [part[i] for i in rng.choice(len(part), size=count, replace=False)]
    holdout = groups.isin(held).to_numpy()
    return ~holdout, holdout


class KindRetrainer:
    """How one kind of model is retrained: read its new rows, split them, build a challenger, score a model.

    ``group`` names the column that keeps rows together; ``positive`` (optional) the column whose true value
    marks the rare class the split must put on both sides."""

    KIND: ClassVar[str]
    group: ClassVar[str]
    positive: ClassVar[str | None] = None
    #: whether the latest new rows can judge (``split_latest``); other kinds keep a unit, cut or tool whole instead
    time_split: ClassVar[bool] = False

    def metric(self, requested: str) -> str:
        return metric_for(self.KIND, requested)

    def read(self, path: str, champion: Any, label: str, time_column: str = "") -> pd.DataFrame:
        """The new rows from a file, checked against the champion's inputs (``label``: the outcome column of a
        labelled table; kinds whose rows carry their outcome in their own columns ignore it); with ``time_column``
        (kinds with ``time_split`` only), in its order and without it."""
        raise NotImplementedError

    def check(self, path: str, champion: Any, label: str, time_column: str = "") -> None:
        """Fail in seconds, before a pipeline starts, on new rows the champion cannot take (default: ``read``)."""
        self.read(path, champion, label, time_column)

    def log_rows(self, model: str, champion: Any, label: str, since: Any = None, root: Any = None) -> pd.DataFrame:
        """The answers the served ``model`` logged, with the outcomes fed back, as the new rows ``read`` gives."""
        raise NotImplementedError

    def embedded_rows(self, drift: float, seed: int) -> Any:
        """The simulated new rows a retraining takes when given none (a path), or None where this kind has none."""
        return None

    def drift(
        self, rows: pd.DataFrame, champion: Any, reference: pd.DataFrame | None, thresholds: dict[str, float]
    ) -> dict[str, Any] | None:
        """A per-column drift report of the new rows against the champion's training rows, or None where this
        kind measures none (its summary says what the rows hold instead)."""
        return None

    def group_column(self, champion: Any) -> str:
        """The column whose value keeps rows together."""
        return self.group

    def split(
        self, rows: pd.DataFrame, champion: Any, holdout_size: float, seed: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        group = self.group_column(champion)
        positive = rows[self.positive] if self.positive else None
        adapt, holdout = split_groups(rows[group], positive, holdout_size, seed)
        if not holdout.any() or not adapt.any():
            raise DataError(
                "data",
                f"{rows[group].nunique()} {group}(s) in the new data: at least two are "
                f"needed, one to adapt on and one to score on",
            )
        return rows[adapt].reset_index(drop=True), rows[holdout].reset_index(drop=True)

    def split_latest(self, rows: pd.DataFrame, holdout_size: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(adapt, holdout) with the latest ``holdout_size`` share of ``rows`` (in time order) held out."""
        raise self.no_time_split("split")

    def no_time_split(self, field: str) -> DataError:
        return DataError(
            field,
            f"a {self.KIND} model's new rows keep each {self.group} whole on one side; "
            "a time split holds out a fault classifier's latest rows",
        )

    def summary(self, rows: pd.DataFrame, champion: Any) -> dict[str, Any]:
        """What the check step reports of the new rows."""
        group = self.group_column(champion)
        return {"groups": int(rows[group].nunique()), "group": group}

    def challenger(
        self, champion: Any, adapt: pd.DataFrame, *, reference: pd.DataFrame | None, seed: int, settings: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """A challenger built from ``champion`` on the adaptation rows (and the champion's own training rows,
        ``reference``, where it was registered with them); how it was built."""
        raise NotImplementedError

    def score(self, model: Any, rows: pd.DataFrame) -> dict[str, float]:
        """Every metric of this kind for ``model`` on ``rows``."""
        raise NotImplementedError

    def example(self, rows: pd.DataFrame, model: Any) -> Any:
        """An input example for the registered signature."""
        raise NotImplementedError

    def training_rows(self, adapt: str, contract: Any) -> dict[str, Any]:
        """Artifacts that keep what the challenger learned from, for the next retraining (none by default)."""
        return {}


def metric_for(kind: str, requested: str) -> str:
    """``requested`` checked against the metrics ``kind`` is compared by (``auto``: the first)."""
    metrics = RETRAIN_METRICS_BY_KIND[kind]
    if requested == "auto":
        return metrics[0]
    if requested not in metrics:
        raise DataError("metric", f"a {kind} model is compared by one of {list(metrics)}, got {requested!r}")
    return requested
