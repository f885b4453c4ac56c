"""Why a fault classifier answered as it did: each raw column's SHAP value, in log-odds of the fault class.

SHAP values come from the ``shap`` library, exact for the two families ``--classifier auto`` registers:

- gradient boosting: its tree explainer on the trees' own training cover (path-dependent TreeSHAP); a row's values
  sum to its log-odds minus the model's average log-odds over its training rows;
- logistic regression: its linear explainer against one reference part, the row the model's own imputers make of
  an empty request (every numeric column at its training median, every string column at its most frequent
  category); a row's values sum to its log-odds minus that part's.

- any other classifier (the ResNet of ``--classifier all``): no exact explainer covers it, so its values are the
  permutation estimate of ``shopfloor.platform.shapley`` over the raw columns, each column either the row's or the
  same typical part's; exact in their sum (to the network's float32 rounding), estimated in their split between
  columns.

Either way the values of a row sum to the model's own log-odds minus ``expected_log_odds`` (SHAP's additivity,
within 1e-9 in the tests). Columns the preprocessing expands (one-hot categories) are summed back into the column
the client sent. shap's interventional tree explainer was tried first, against the same reference part as the
linear model: where a value equals a split threshold (common in rounded plant data) it sends the row the other way
than the model does, and one simulated row's values missed its log-odds by 0.93.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shopfloor.contract import TabularSchema
from shopfloor.errors import DataError

UNITS = "log-odds of the fault class"
TYPICAL = "a typical part: every column at its training median or most frequent category"


def _parts(estimator: Any) -> tuple[Any, Any]:
    """(preprocessing, final classifier) of a fitted two-step scikit-learn pipeline."""
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) != 2:
        raise DataError("explain", "the model is not a preprocessing + classifier pipeline", "not_supported")
    return steps[0][1], steps[1][1]


def fold_matrix(pre: Any) -> tuple[list[str], np.ndarray]:
    """(raw columns, a [transformed features x raw columns] 0/1 matrix saying which raw column each transformed
    feature comes from): SHAP values are additive, so the one-hot columns of a string column sum into it."""
    from sklearn.preprocessing import OneHotEncoder

    raw: list[str] = []
    owners: list[int] = []
    for name, transformer, columns in pre.transformers_:
        if name == "remainder" or isinstance(transformer, str):
            continue
        steps = [step for _, step in getattr(transformer, "steps", [("", transformer)])]
        encoder = next((s for s in steps if isinstance(s, OneHotEncoder)), None)
        widths = [len(c) for c in encoder.categories_] if encoder is not None else [1] * len(columns)
        for column, width in zip(columns, widths, strict=True):
            raw.append(str(column))
            owners += [len(raw) - 1] * width
    fold = np.zeros((len(owners), len(raw)))
    fold[np.arange(len(owners)), owners] = 1.0
    return raw, fold


class Explainer:
    """SHAP values of a fitted preprocessing + classifier pipeline, per raw column (see the module)."""

    def __init__(self, estimator: Any, inputs: TabularSchema) -> None:
        import shap
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression

        self.pre, final = _parts(estimator)
        self.final = final
        self.columns, self.fold = fold_matrix(self.pre)
        self.explainer: Any = None
        empty = pd.DataFrame({c.name: [None if c.categorical else np.nan] for c in inputs.columns})
        self.typical = np.asarray(self.pre.transform(empty), dtype=np.float64)  # what the model's imputers make of it
        self.options: dict[str, Any] = {}
        if isinstance(final, LogisticRegression) and final.coef_.shape[0] == 1:
            self.explainer = shap.LinearExplainer(final, shap.maskers.Independent(self.typical))
            self.reference = TYPICAL
        elif isinstance(final, HistGradientBoostingClassifier) and final.n_trees_per_iteration_ == 1:
            self.explainer = shap.TreeExplainer(final, feature_perturbation="tree_path_dependent")
            self.reference = "the model's average log-odds over its training rows"
            self.options = {"check_additivity": False}  # it would score every row again; the tests check additivity
        elif hasattr(final, "predict_proba"):
            self.reference = TYPICAL + " (values estimated by permutations)"
        else:
            raise DataError("explain", f"no explanation for a {type(final).__name__} classifier", "not_supported")
        if self.explainer is not None:
            self.expected = float(np.ravel(self.explainer.expected_value)[-1])
        else:
            self.expected = float(self._log_odds(self.typical)[0])

    def _log_odds(self, x: np.ndarray) -> np.ndarray:
        if hasattr(self.final, "decision_function"):
            return np.asarray(self.final.decision_function(x), dtype=np.float64).ravel()
        p = np.clip(np.asarray(self.final.predict_proba(x), dtype=np.float64)[:, -1], 1e-300, 1 - 1e-16)
        return np.log(p) - np.log1p(-p)

    def __call__(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """([rows, raw columns] SHAP values, the model's log-odds) of ``frame`` (raw columns): the preprocessing,
        most of the cost, runs once for both."""
        x = np.asarray(self.pre.transform(frame), dtype=np.float64)
        if self.explainer is None:
            return self._sampled(x), self._log_odds(x)
        values = np.asarray(self.explainer.shap_values(x, **self.options), dtype=np.float64)
        if values.ndim == 3:  # one slice per class
            values = values[..., -1]
        return values @ self.fold, self._log_odds(x)

    def _sampled(self, x: np.ndarray) -> np.ndarray:
        """Each raw column's permutation Shapley value per row: a coalition's columns take the row's values, the
        others the typical part's; every coalition of a row is scored in one call of the classifier."""
        from shopfloor.platform.shapley import masked_shapley

        out = np.empty((len(x), len(self.columns)))
        for i, row in enumerate(x):

            def values_of(masks: np.ndarray, row: np.ndarray = row) -> np.ndarray:
                present = (masks.astype(np.float64) @ self.fold.T) > 0  # a raw column's transformed features
                return self._log_odds(np.where(present, row, self.typical))

            out[i], _ = masked_shapley(values_of, len(self.columns))
        return out
