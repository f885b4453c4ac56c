"""Load a labelled table, check it, split it and fit the preprocessor kept with every model.

Checks happen before anything is trained or registered, and each error names the column or file at
fault, because a factory table with a typo in its label column should cost seconds, not a pipeline run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from shopfloor.errors import DataError

LABEL = "label"
MIN_MINORITY_ROWS = 10


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by suffix); a missing or unreadable file is a ``DataError``."""
    path = Path(path)
    if not path.is_file():
        raise DataError("data", f"file not found: {path}")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path, encoding="utf-8-sig")
    except Exception as exc:  # pandas raises many types; the user needs the file name and cause
        raise DataError("data", f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class LabelledTable:
    """Numeric features and a 0/1 label where 1 is the minority (fault) class."""

    features: pd.DataFrame
    label: pd.Series
    positive_label: str
    negative_label: str


def prepare(table: pd.DataFrame, label: str, drop: list[str] | None = None,
            categorical: list[str] | None = None) -> LabelledTable:
    """Validate ``table`` and encode it: drop and one-hot columns, check features and label.

    The minority class becomes 1. Raises ``DataError`` naming the column at fault for: an absent
    label, a label with missing values or not exactly two classes, absent drop/categorical columns,
    non-numeric or all-NaN features, and fewer than ``MIN_MINORITY_ROWS`` minority rows.
    """
    if table.empty:
        raise DataError("data", "the table has no rows")
    if label not in table.columns:
        raise DataError(label, f"label column not found; columns are {list(table.columns)[:12]}...")
    for column in [*(drop or []), *(categorical or [])]:
        if column not in table.columns:
            raise DataError(column, "column named in drop/categorical is not in the table")
    y_raw = table[label]
    if y_raw.isna().any():
        raise DataError(label, f"label has {int(y_raw.isna().sum())} missing values")
    classes = y_raw.value_counts()
    if len(classes) != 2:
        raise DataError(label, f"label must have exactly two classes, found {len(classes)}: "
                               f"{list(classes.index.astype(str))[:5]}")
    minority, majority = classes.index[-1], classes.index[0]
    if classes.iloc[-1] == classes.iloc[0]:
        minority, majority = sorted(classes.index)[-1], sorted(classes.index)[0]
    n_minority = int(classes[minority])
    if n_minority < MIN_MINORITY_ROWS:
        raise DataError(label, f"only {n_minority} minority rows ({minority!r}); at least "
                               f"{MIN_MINORITY_ROWS} are needed")

    features = table.drop(columns=[label, *(drop or [])])
    if categorical:
        features = pd.get_dummies(features, columns=categorical, dtype=float)
    if features.shape[1] == 0:
        raise DataError("features", "no feature columns left")
    non_numeric = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])
                   or pd.api.types.is_bool_dtype(features[c])]
    if non_numeric:
        raise DataError(str(non_numeric[0]), f"feature column is not numeric (all non-numeric: "
                                             f"{non_numeric}); drop it or one-hot it")
    all_nan = [c for c in features.columns if features[c].isna().all()]
    if all_nan:
        raise DataError(str(all_nan[0]), f"feature column has only missing values (all such: {all_nan})")
    values = features.to_numpy(dtype=float)
    if np.isinf(values).any():
        bad = [c for c in features.columns if np.isinf(features[c].to_numpy(dtype=float)).any()]
        raise DataError(str(bad[0]), "feature column holds infinite values")
    features = features.astype(float)
    features.columns = [str(c) for c in features.columns]
    y = (y_raw == minority).astype(int).rename(LABEL)
    return LabelledTable(features, y, str(minority), str(majority))


@dataclass(frozen=True)
class Splits:
    """Stratified train / validation / test splits of a ``LabelledTable`` (unscaled)."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def split(data: LabelledTable, test_size: float = 0.2, valid_size: float = 0.2, seed: int = 0) -> Splits:
    """Stratified three-way split; each frame holds the features and the ``label`` column.

    The validation split tunes synthesizers and picks the model; the test split is only reported.
    """
    frame = data.features.assign(**{LABEL: data.label.to_numpy()})
    rest, test = train_test_split(frame, test_size=test_size, stratify=frame[LABEL], random_state=seed)
    valid_share = valid_size / (1.0 - test_size)
    train, valid = train_test_split(rest, test_size=valid_share, stratify=rest[LABEL], random_state=seed)
    return Splits(train.reset_index(drop=True), valid.reset_index(drop=True), test.reset_index(drop=True))


def fit_preprocessor(train: pd.DataFrame) -> Pipeline:
    """Median imputation then scaling to [-1, 1] (the WGAN generator ends in tanh), fitted on train."""
    pre = Pipeline([("impute", SimpleImputer(strategy="median")),
                    ("scale", MinMaxScaler(feature_range=(-1.0, 1.0)))])
    pre.set_output(transform="pandas")
    pre.fit(train.drop(columns=[LABEL]))
    return pre


def transform(pre: Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the fitted preprocessor to a split, keeping the label column."""
    scaled = pre.transform(frame.drop(columns=[LABEL]))
    return scaled.assign(**{LABEL: frame[LABEL].to_numpy()})


def xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Split a frame into features and the 0/1 label array."""
    return frame.drop(columns=[LABEL]), frame[LABEL].to_numpy(dtype=int)
