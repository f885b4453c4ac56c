"""Retraining a fault classifier: its new rows are a labelled table with the champion's columns, split stratified
by the label, with a drift report per column against the rows the champion was trained on.

The challenger is an EnKF warm start where the final step can ``retrain`` (the ResNet), otherwise a clone of the
whole pipeline (preprocessing included) refitted on the new rows. It keeps the champion's columns, threshold and
labels, and is registered with its adaptation rows as its reference (the next retraining's drift baseline).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from shopfloor.contract import TabularSchema
from shopfloor.data import ingest as ing
from shopfloor.errors import DataError
from shopfloor.fault_detection.metrics import classification_report
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.retraining.base import KindRetrainer
from shopfloor.retraining.drift import drift_report


def check_columns(table: pd.DataFrame, features: list[str], label: str, key_column: str | None = None) -> None:
    """New data must hold exactly the champion's raw columns and the label (and its business key, if named)."""
    if table.empty:
        raise DataError("data", "the new data have no rows")
    if label not in table.columns:
        raise DataError(label, "label column not found in the new data")
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise DataError(
            missing[0], f"feature of the champion's signature is missing from the new data ({len(missing)} missing)"
        )
    extra = [c for c in table.columns if c not in features and c not in (label, key_column)]
    if extra:
        raise DataError(extra[0], "column is not in the champion's signature (drop it or retrain from scratch)")


def labelled_rows(table: pd.DataFrame, schema: TabularSchema, label: str, positive: str = "") -> pd.DataFrame:
    """The new table typed as the champion takes it (string columns as categories), with the 0/1 label: 1 where
    the label is the champion's faulty value ``positive`` (a batch from a bad week may hold more faulty parts than
    good ones, so the rarer value is not taken for it). One copy of the table at most: a million logged rows are
    half a gigabyte each time."""
    categorical = [c.name for c in schema.categorical]
    other = [c for c in table.columns if c not in schema.names and c != label]
    prepared = ing.prepare(table, label, drop=other, categorical=categorical, min_categories=1, positive=positive)
    rows = prepared.features
    if list(rows.columns) != schema.names:
        rows = rows.reindex(columns=schema.names)
    rows[ing.LABEL] = prepared.label.to_numpy()
    return rows


def challenger_from(
    champion: FaultClassifier, x: pd.DataFrame, y: np.ndarray, seed: int = 0
) -> tuple[FaultClassifier, dict[str, Any]]:
    """A challenger adapted to (x, y): EnKF warm start when the final step can ``retrain`` (the ResNet),
    otherwise a clone of the whole pipeline (preprocessing included) refitted."""
    estimator = champion.estimator
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    start = time.perf_counter()
    schema = champion.inputs
    if hasattr(final, "retrain"):
        fitted = copy.deepcopy(estimator)
        head = fitted[:-1] if hasattr(fitted, "steps") else None
        rows = head.transform(x) if head is not None else x
        result = fitted[-1].retrain(rows, y, method="enkf", seed=seed)
        how = {"method": "enkf", "iterations": result.iterations, "train_error": result.error}
    else:
        fitted = clone(estimator).fit(x, y)
        how = {"method": "refit"}
        if hasattr(fitted, "steps"):  # the encoder may have met new categories
            schema = ing.schema_of(fitted[0], x, [c.name for c in schema.columns if c.type == "boolean"])
    challenger = FaultClassifier(
        fitted,
        schema,
        threshold=champion.threshold,
        labels=cast(tuple[str, str], champion.labels),
        key_column=champion.details().get("key_column"),
    )
    return challenger, {**how, "seconds": time.perf_counter() - start}


class ClassifierRetrainer(KindRetrainer):
    KIND = FaultClassifier.KIND
    group = ing.LABEL  # not a group: the split is stratified by it
    time_split = True

    def read(self, path: str, champion: FaultClassifier, label: str, time_column: str = "") -> pd.DataFrame:
        table = ing.read_table(path)
        if time_column:  # oldest first, as the time split needs them; the column itself is never a feature
            order = np.argsort(ing.time_values(table, time_column).to_numpy(), kind="stable")
            table = table.iloc[order].drop(columns=[time_column]).reset_index(drop=True)
        check_columns(table, champion.inputs.names, label, champion.details().get("key_column"))
        return labelled_rows(table, champion.inputs, label, positive=str(champion.labels[1]))

    def check(self, path: str, champion: FaultClassifier, label: str, time_column: str = "") -> None:
        """By the table's first rows (columns, label, the time column's values); the check step reads the whole
        table."""
        table = ing.peek_table(path)
        if time_column:
            ing.time_values(table, time_column)
            table = table.drop(columns=[time_column])
        check_columns(table, champion.inputs.names, label, champion.details().get("key_column"))

    def log_rows(
        self, model: str, champion: FaultClassifier, label: str, since: Any = None, root: Any = None
    ) -> pd.DataFrame:
        from shopfloor.monitoring.training_rows import labelled_log

        return labelled_log(model, champion.inputs.names, label, champion.details()["labels"], since, root)

    def split(
        self, rows: pd.DataFrame, champion: FaultClassifier, holdout_size: float, seed: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        # positions, then rows: the same rows as splitting the frame, one copy fewer at a time
        adapt, holdout = train_test_split(
            np.arange(len(rows)), test_size=holdout_size, stratify=rows[ing.LABEL], random_state=seed
        )
        return rows.iloc[adapt].reset_index(drop=True), rows.iloc[holdout].reset_index(drop=True)

    def split_latest(self, rows: pd.DataFrame, holdout_size: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The latest rows judge: what a model retrained today will meet next is nearer them than a random draw
        of the same weeks it learned from. Both sides must hold a faulty and a good row."""
        cut = len(rows) - max(1, int(round(holdout_size * len(rows))))
        adapt, holdout = rows.iloc[:cut].reset_index(drop=True), rows.iloc[cut:].reset_index(drop=True)
        for name, part in (("earliest rows (to adapt on)", adapt), ("latest rows (held out)", holdout)):
            if part[ing.LABEL].nunique() < 2:
                only = "faulty" if part[ing.LABEL].iloc[0] == 1 else "good"
                raise DataError(
                    "split",
                    f"the time split's {len(part)} {name} are all {only}: it needs both classes on each side "
                    "(more new rows, or --split random)",
                )
        return adapt, holdout

    def embedded_rows(self, drift: float, seed: int) -> Path:
        """The simulated gearbox line after a supplier change."""
        from shopfloor.data import embedded

        return embedded.gearbox_after_change(drift, seed)

    def summary(self, rows: pd.DataFrame, champion: FaultClassifier) -> dict[str, Any]:
        return {}

    def drift(
        self,
        rows: pd.DataFrame,
        champion: FaultClassifier,
        reference: pd.DataFrame | None,
        thresholds: dict[str, float],
    ) -> dict[str, Any] | None:
        if reference is None:
            return None
        features = champion.inputs.names
        drift = drift_report(reference[features], rows, **thresholds)
        return {
            "drift": drift.any_drift,
            "drifted": drift.drifted,
            "max_ks": float(drift.table["ks"].max()),
            "max_psi": float(drift.table["psi"].max()),
            "features": drift.table.reset_index().to_dict("records"),
        }

    def challenger(
        self,
        champion: FaultClassifier,
        adapt: pd.DataFrame,
        *,
        reference: pd.DataFrame | None,
        seed: int,
        settings: dict[str, Any],
    ) -> tuple[FaultClassifier, dict[str, Any]]:
        return challenger_from(champion, adapt[champion.inputs.names], adapt[ing.LABEL].to_numpy(), seed=seed)

    def score(self, model: FaultClassifier, rows: pd.DataFrame) -> dict[str, float]:
        predicted = model.predict(None, rows[model.inputs.names])["class"].to_numpy()
        return classification_report(rows[ing.LABEL].to_numpy(), predicted)

    def example(self, rows: pd.DataFrame, model: FaultClassifier) -> pd.DataFrame:
        return rows[model.inputs.names].head(5)

    def training_rows(self, adapt: str, contract: Any) -> dict[str, Any]:
        from shopfloor.registry import REFERENCE

        return {REFERENCE: Path(adapt)}
