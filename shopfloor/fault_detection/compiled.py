"""Gradient boosting compiled: the served path of a ``HistGradientBoostingClassifier`` champion.

scikit-learn validates a one-row DataFrame in every step of every call and starts its OpenMP pool for each tree;
through the registered pipeline (ColumnTransformer, then the classifier) one row cost about 6.5 ms of CPU, so the
model server answered 141-183 one-row requests a second. Here the fitted preprocessing becomes per-column affine
maps and one-hot lookups, and the trees become flat arrays walked by a numba kernel, with the same float64
comparisons scikit-learn makes (``value <= threshold``, a missing value going where the node sends it) and the
leaves summed in its order, so the raw scores equal the classifier's own. ``tree_scorer`` returns None (the
pipeline is used) for anything else, and for a compiled path that disagrees with the pipeline on random rows.

A maintained compiler (ONNX through skl2onnx and onnxruntime) was the alternative; its tree ensembles compare in
float32, so rows near a threshold can fall on the other side, and a served model must equal the registered one."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from shopfloor.contract import Rows, TabularSchema
from shopfloor.forest import Forest

Scorer = Callable[[Rows], np.ndarray]
Encoder = Callable[[Rows], np.ndarray]


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
        w = coef[offset : offset + width]
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
            logit = logit + np.array(
                [table.get(cast(str, v if v is not None else missing), unknown) for v in rows.categorical[:, k]]
            )
        return 1.0 / (1.0 + np.exp(-logit))

    return proba if _agrees(proba, estimator, schema) else None


def _categorical_lookups(
    steps: list, columns: list[str], w: np.ndarray, index: dict[str, int]
) -> tuple[float, list[tuple[int, dict[str, float], float, str | None]]] | None:
    """Per string column: the logit contribution of each known category, of an unknown one, and the
    category a missing value is imputed with (an optional ``SimpleImputer`` before the encoder, an
    optional min-max scaler after it)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

    imputer = next((s for s in steps if isinstance(s, SimpleImputer)), None)
    encoder = next(s for s in steps if isinstance(s, OneHotEncoder))
    after = steps[steps.index(encoder) + 1 :]
    if (
        encoder.drop is not None
        or any(not isinstance(s, MinMaxScaler) for s in after)
        or steps.index(encoder) > (1 if imputer is not None else 0)
        or encoder.handle_unknown != "ignore"
    ):
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


def _numeric_block(steps: list, positions: list[int]) -> Callable[[Rows], np.ndarray] | None:
    """A numeric block: an optional ``SimpleImputer`` first, then min-max or standard scalers (one affine map)."""
    affine = _affine(steps, len(positions))
    if affine is None:
        return None
    fill, scale, shift = affine
    from sklearn.impute import SimpleImputer

    imputes = bool(steps) and isinstance(steps[0], SimpleImputer)
    index = np.asarray(positions, dtype=np.intp)
    whole = bool(np.array_equal(index, np.arange(len(index))))  # every numeric column in order: no gather

    def block(rows: Rows) -> np.ndarray:
        x = rows.numeric if whole and rows.numeric.shape[1] == len(index) else rows.numeric[:, index]
        if imputes and np.isnan(x).any():
            x = np.where(np.isnan(x), fill, x)
        return x * scale + shift

    return block


def _categorical_block(steps: list, positions: list[int]) -> Callable[[Rows], np.ndarray] | None:
    """A string block: an optional ``SimpleImputer``, a ``OneHotEncoder`` ignoring unknown categories, then optional
    min-max scalers."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

    encoders = [s for s in steps if isinstance(s, OneHotEncoder)]
    if len(encoders) != 1:
        return None
    encoder = encoders[0]
    at = steps.index(encoder)
    imputer = steps[0] if at == 1 and isinstance(steps[0], SimpleImputer) else None
    after = steps[at + 1 :]
    if (
        at > 1
        or (at == 1 and imputer is None)
        or encoder.drop is not None
        or encoder.handle_unknown != "ignore"
        or any(not isinstance(s, MinMaxScaler) for s in after)
    ):
        return None
    width = sum(len(c) for c in encoder.categories_)
    scale, shift = np.ones(width), np.zeros(width)
    for scaler in after:
        scale, shift = scale * scaler.scale_, shift * scaler.scale_ + scaler.min_
    starts = np.cumsum([0, *(len(c) for c in encoder.categories_)])[:-1]
    tables = [
        {str(cat): int(start + m) for m, cat in enumerate(cats)}
        for start, cats in zip(starts, encoder.categories_, strict=True)
    ]
    missing = [str(v) for v in imputer.statistics_] if imputer is not None else [None] * len(tables)

    def block(rows: Rows) -> np.ndarray:
        hot = np.zeros((len(rows), width))
        for j, (k, table) in enumerate(zip(positions, tables, strict=True)):
            for i, value in enumerate(rows.categorical[:, k]):
                where = table.get(str(value) if value is not None else cast(str, missing[j]))
                if where is not None:
                    hot[i, where] = 1.0
        return hot * scale + shift

    return block


def column_encoder(preprocessor: Any, schema: TabularSchema) -> Encoder | None:
    """The fitted ``ColumnTransformer``'s output for checked rows, as numpy (None where it has other steps)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    if not isinstance(preprocessor, ColumnTransformer):
        return None
    numeric = {c.name: j for j, c in enumerate(schema.numeric)}
    categorical = {c.name: k for k, c in enumerate(schema.categorical)}
    blocks = []
    for _, transformer, columns in preprocessor.transformers_:
        if isinstance(transformer, str) and transformer == "drop" or len(columns) == 0:
            continue
        if isinstance(transformer, str):  # "passthrough"
            return None
        steps = _flatten(transformer)
        if any(isinstance(s, OneHotEncoder) for s in steps):
            if any(c not in categorical for c in columns):
                return None
            block = _categorical_block(steps, [categorical[c] for c in columns])
        else:
            if any(c not in numeric for c in columns):
                return None
            block = _numeric_block(steps, [numeric[c] for c in columns])
        if block is None:
            return None
        blocks.append(block)
    if len(blocks) == 1:  # the common case (numbers only): no stacking per call
        return blocks[0]
    return lambda rows: np.hstack([b(rows) for b in blocks]) if blocks else np.zeros((len(rows), 0))


def tree_scorer(estimator: Any, schema: TabularSchema) -> Scorer | None:
    """The fault probability of a preprocessing + binary ``HistGradientBoostingClassifier`` pipeline as numpy, or
    None (another estimator, native categorical splits, or a compiled path that does not agree to 1e-9)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    steps = _flatten(estimator)
    final = steps[-1]
    if (
        len(steps) != 2
        or not isinstance(final, HistGradientBoostingClassifier)
        or final.n_trees_per_iteration_ != 1
        or getattr(final, "_preprocessor", None) is not None
        or any(p[0].nodes["is_categorical"].any() for p in final._predictors)
    ):
        return None
    encode = column_encoder(steps[0], schema)
    if encode is None:
        return None
    forest = Forest(final)

    def proba(rows: Rows) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-forest.raw(encode(rows))))

    return proba if _agrees(proba, estimator, schema) else None
