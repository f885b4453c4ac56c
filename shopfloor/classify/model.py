"""The registered fault classifier: a fitted scikit-learn pipeline (raw columns -> fault probability) and
its decision threshold, in the model contract of ``shopfloor.contract``.

The pipeline holds the preprocessing (imputation, scaling, one-hot encoding of string columns), so a
client sends ``{"Type": "L", "Torque [Nm]": 40.1, ...}`` as the table had it. scikit-learn validates
its input in every step of every call (a few milliseconds for one row); for the linear model and for gradient
boosting the fitted pipeline is compiled into plain numpy at load time (``linear_scorer`` here,
``shopfloor.classify.compiled.tree_scorer``), checked equal to the pipeline on random rows first, and used by both
the pyfunc and the server.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from shopfloor.contract import Output, Rows, ShopfloorModel, TabularSchema

Scorer = Callable[[Rows], np.ndarray]


class FaultClassifier(ShopfloorModel):
    """``class`` (1 = faulty) when the fault probability reaches ``threshold``, and the probability."""

    KIND = "classifier"
    OUTPUTS = (Output("class", "INT64", description="1 when the unit is predicted faulty"),
               Output("fault_probability", "FP64", description="probability of the fault class"))

    def __init__(self, estimator: Any, inputs: TabularSchema, threshold: float = 0.5,
                 labels: tuple[str, str] = ("0", "1"), key_column: str | None = None) -> None:
        """``key_column``: the business key (a part id) requests may carry beside the features; passed
        through to the prediction log, never a feature."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        self.estimator = estimator
        self.inputs = inputs
        self.threshold = float(threshold)
        self.labels = tuple(labels)  # (healthy, faulty) as the user's label column names them
        self.key_column = key_column or None
        self._scorer: Scorer | None = None

    def details(self) -> dict[str, Any]:
        key = getattr(self, "key_column", None)  # models pickled before keys were named have none
        return {"threshold": self.threshold, "labels": {"0": self.labels[0], "1": self.labels[1]},
                **({"key_column": key} if key else {})}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_scorer"] = None  # compiled again where the model is loaded
        return state

    def load_context(self, context) -> None:
        self.scorer()

    def scorer(self) -> Scorer:
        """The fault-probability function of this model (the compiled linear path where it applies)."""
        if self._scorer is None:
            from shopfloor.classify.compiled import tree_scorer

            fast = linear_scorer(self.estimator, self.inputs) or tree_scorer(self.estimator, self.inputs)
            self._scorer = fast if fast is not None else self._pipeline_proba
        return self._scorer

    def verify(self, model_input: Any, atol: float = 1e-9) -> None:
        """The compiled path (where there is one) against the fitted pipeline on ``model_input``'s rows."""
        scorer = self.scorer()
        if scorer == self._pipeline_proba:
            return
        rows = self.inputs.from_input(model_input)
        compiled, fitted = scorer(rows), self._pipeline_proba(rows)
        wrong = np.abs(compiled - fitted) > atol
        if wrong.any():
            raise ValueError(f"the compiled scoring path disagrees with the fitted pipeline on {int(wrong.sum())} of "
                             f"{len(rows)} rows (largest difference {float(np.abs(compiled - fitted).max()):.3g}): "
                             "not registered")

    def _pipeline_proba(self, rows: Rows) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(rows.frame())[:, 1], dtype=np.float64)

    def predict_rows(self, rows: Rows) -> dict[str, np.ndarray]:
        proba = self.scorer()(rows)
        return {"class": (proba >= self.threshold).astype(np.int64), "fault_probability": proba}


def _flatten(estimator: Any) -> list:
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return [s for _, step in estimator.steps for s in _flatten(step)]
    return [estimator]


def _affine(steps: list, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(fill, scale, shift): x -> missing values filled, then x * scale + shift, composed over ``steps``;
    None if a step is not an imputer (first) or a min-max/standard scaler."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    fill = np.zeros(width)
    scale, shift = np.ones(width), np.zeros(width)
    scaled = False
    for step in steps:
        if isinstance(step, SimpleImputer):
            if scaled:
                return None  # an imputer after a scaler: not composed here
            fill = np.asarray(step.statistics_, dtype=np.float64)
            continue
        scaled = True
        if isinstance(step, MinMaxScaler):
            scale, shift = scale * step.scale_, shift * step.scale_ + step.min_
        elif isinstance(step, StandardScaler):
            s = step.scale_ if step.scale_ is not None else 1.0
            m = step.mean_ if step.mean_ is not None else 0.0
            scale, shift = scale / s, (shift - m) / s
        else:
            return None
    return fill, scale, shift


def linear_scorer(estimator: Any, schema: TabularSchema) -> Scorer | None:
    """The fault probability of a fitted preprocessing + ``LogisticRegression`` pipeline as plain numpy.

    Numeric columns go through imputation and min-max or standard scaling (one affine map); string
    columns through one-hot encoding (and scaling), which for a linear model is a lookup of each
    category's contribution to the logit (unknown categories contribute what an all-zero one-hot row
    does, as ``handle_unknown="ignore"`` makes it). Returns None for any other estimator, and for a
    compiled path that does not agree with the pipeline to 1e-9 on random rows.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    steps = _flatten(estimator)
    final = steps[-1]
    if not isinstance(final, LogisticRegression) or final.coef_.shape[0] != 1 or len(steps) != 2:
        return None
    pre = steps[0]
    if not isinstance(pre, ColumnTransformer):
        return None
    coef, bias = np.asarray(final.coef_[0], dtype=np.float64), float(final.intercept_[0])
    numeric_index = {c.name: j for j, c in enumerate(schema.numeric)}
    categorical_index = {c.name: k for k, c in enumerate(schema.categorical)}
    weights = np.zeros(len(schema.numeric))
    fill = np.zeros(len(schema.numeric))  # columns the pipeline drops get weight 0 and any fill
    lookups: list[tuple[int, dict[str, float], float, str | None]] = []
    offset = 0
    for _, transformer, columns in pre.transformers_:
        if isinstance(transformer, str) and transformer == "drop" or len(columns) == 0:
            continue
        if isinstance(transformer, str):  # "passthrough"
            return None
        width = len(transformer.get_feature_names_out())
        w = coef[offset:offset + width]
        offset += width
        steps_here = _flatten(transformer)
        encoders = [s for s in steps_here if isinstance(s, OneHotEncoder)]
        if not encoders:  # numeric block
            affine = _affine(steps_here, len(columns))
            if affine is None or any(c not in numeric_index for c in columns):
                return None
            f, scale, shift = affine
            positions = [numeric_index[c] for c in columns]
            weights[positions] += w * scale
            fill[positions] = f
            bias += float(np.dot(w, shift))
            continue
        added = _categorical_lookups(steps_here, list(columns), w, categorical_index)
        if added is None:
            return None
        block_bias, block_lookups = added
        bias += block_bias
        lookups += block_lookups
    if offset != len(coef):
        return None

    def proba(rows: Rows) -> np.ndarray:
        x = rows.numeric
        if np.isnan(x).any():
            x = np.where(np.isnan(x), fill, x)
        logit = x @ weights + bias
        for k, table, unknown, missing in lookups:
            logit = logit + np.array([table.get(v if v is not None else missing, unknown)
                                      for v in rows.categorical[:, k]])
        return 1.0 / (1.0 + np.exp(-logit))

    return proba if _agrees(proba, estimator, schema) else None


def _categorical_lookups(steps: list, columns: list[str], w: np.ndarray, index: dict[str, int]
                         ) -> tuple[float, list[tuple[int, dict[str, float], float, str | None]]] | None:
    """Per string column: the logit contribution of each known category, of an unknown one, and the
    category a missing value is imputed with (an optional ``SimpleImputer`` before the encoder, an
    optional min-max scaler after it)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

    imputer = next((s for s in steps if isinstance(s, SimpleImputer)), None)
    encoder = next(s for s in steps if isinstance(s, OneHotEncoder))
    after = steps[steps.index(encoder) + 1:]
    if encoder.drop is not None or any(not isinstance(s, MinMaxScaler) for s in after) or \
            steps.index(encoder) > (1 if imputer is not None else 0) or encoder.handle_unknown != "ignore":
        return None
    width = sum(len(c) for c in encoder.categories_)
    scale, shift = np.ones(width), np.zeros(width)
    for scaler in after:
        scale, shift = scale * scaler.scale_, shift * scaler.scale_ + scaler.min_
    block_bias = float(np.dot(w, shift))  # what an all-zero one-hot row contributes
    lookups = []
    start = 0
    for j, (column, categories) in enumerate(zip(columns, encoder.categories_, strict=True)):
        if column not in index:
            return None
        table = {str(cat): float(w[start + m] * scale[start + m]) for m, cat in enumerate(categories)}
        missing = str(imputer.statistics_[j]) if imputer is not None else None
        lookups.append((index[column], table, 0.0, missing))
        start += len(categories)
    return block_bias, lookups


def _agrees(proba: Scorer, estimator: Any, schema: TabularSchema, n: int = 64) -> bool:
    """The compiled path against the pipeline on random rows (with unknown categories and missing values)."""
    from shopfloor.contract import Rows

    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(n, len(schema.numeric)))
    if numeric.size:
        numeric[rng.random(numeric.shape) < 0.05] = np.nan
    categorical = np.empty((n, len(schema.categorical)), dtype=object)
    for k, column in enumerate(schema.categorical):
        choices = [*column.categories, "never-seen-in-training"]
        categorical[:, k] = [choices[i] for i in rng.integers(0, len(choices), n)]
        categorical[rng.random(n) < 0.05, k] = None
    rows = Rows(numeric, categorical, schema)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = estimator.predict_proba(rows.frame())[:, 1]
        return bool(np.allclose(proba(rows), expected, rtol=0, atol=1e-9))
    except (ValueError, TypeError):  # the pipeline cannot take such rows: no compiled path then
        return False
