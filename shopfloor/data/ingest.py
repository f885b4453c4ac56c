"""Load a labelled table, check it, split it and fit the preprocessor kept inside every model.

Checks happen before anything is trained or registered, and each error names the column or file at
fault, because a factory table with a typo in its label column should cost seconds, not a pipeline run.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder

from shopfloor.constants import SPLITS
from shopfloor.contract import Column, TabularSchema
from shopfloor.errors import DataError

LABEL = "label"
MIN_MINORITY_ROWS = 10


def csv_options(path: Path) -> dict[str, str]:
    """How to read a CSV a plant exported: its encoding (UTF-8, with or without a byte-order mark, else Windows-1252,
    what Excel writes on a European Windows machine), its separator (``,``, ``;`` as Excel writes where the
    decimal mark is a comma, tab or ``|``) and, with another separator than ``,``, its decimal mark (``,`` when the
    first rows' numbers are written so), from its first 64 KB. Binary data (an image, a spreadsheet) is a
    ``DataError`` naming the file, not a table of one garbled column."""
    head = path.open("rb").read(1 << 16)
    if b"\0" in head or head.startswith((b"\x89PNG", b"PK\x03\x04", b"%PDF", b"\xff\xd8\xff")):
        raise DataError(
            "data",
            f"{path} is not a table (binary data: an image, a spreadsheet or an archive?); export it as CSV or Parquet",
        )
    try:
        text, encoding = head.decode("utf-8-sig"), "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut by the 64 KB boundary
            text, encoding = head[: exc.start].decode("utf-8-sig"), "utf-8-sig"
        else:
            text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    lines = text.splitlines()
    first = lines[0] if lines else ""
    separator = max(",;\t|", key=first.count) if first else ","
    separator = separator if first.count(separator) else ","
    options = {"encoding": encoding, "sep": separator}
    if separator != ",":  # where ";" separates, "," may be the decimal mark: 1,5 means 1.5
        fields = [f.strip().strip('"') for line in lines[1:50] for f in line.split(separator)]
        comma = sum(bool(re.fullmatch(r"-?\d+,\d+", f)) for f in fields)
        point = sum(bool(re.fullmatch(r"-?\d+\.\d+", f)) for f in fields)
        if comma > point:
            options["decimal"] = ","
    return options


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by suffix); a missing or unreadable file is a ``DataError``. A CSV's encoding
    and separator are found from its first bytes (``csv_options``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("data", f"file not found: {path}")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return pd.read_csv(path, **csv_options(path))
    except DataError:
        raise
    except Exception as exc:  # pandas raises many types; the user needs the file name and cause
        raise DataError("data", f"cannot read {path}: {exc}") from exc


def peek_table(path: str | Path, rows: int = 5) -> pd.DataFrame:
    """The first ``rows`` rows of a CSV or Parquet file, with all its columns: what a check of its shape needs,
    without reading a million rows (``read_table``'s errors)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("data", f"file not found: {path}")
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            first = next(parquet.iter_batches(batch_size=rows), None)
            return first.to_pandas() if first is not None else parquet.schema_arrow.empty_table().to_pandas()
        return pd.read_csv(path, nrows=rows, **csv_options(path))
    except DataError:
        raise
    except Exception as exc:  # as read_table: the user needs the file name and cause
        raise DataError("data", f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class LabelledTable:
    """Raw features and a 0/1 label where 1 is the minority (fault) class.

    Numeric columns are float, integer or boolean as the table had them; string (categorical) columns
    hold ``str`` or ``None``: the model takes the user's columns as they are and encodes them itself.
    """

    features: pd.DataFrame
    label: pd.Series
    positive_label: str
    negative_label: str
    categorical: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()


def check_key_column(table: pd.DataFrame, key_column: str, label: str) -> None:
    """A business key named at training must be a column of the table, other than the label."""
    if not key_column:
        return
    if key_column == label:
        raise DataError("key-column", f"{key_column!r} is the label column; the key names each part, not its class")
    if key_column not in table.columns:
        raise DataError("key-column", f"no column {key_column!r} in the table; columns are {list(table.columns)[:12]}")


def prepare(
    table: pd.DataFrame,
    label: str,
    drop: list[str] | None = None,
    categorical: list[str] | None = None,
    min_categories: int = 2,
    positive: str = "",
) -> LabelledTable:
    """Validate ``table`` and type its columns: drop columns, check features and label.

    The faulty class becomes 1: the label value ``positive`` (compared as text; every other value is then not
    faulty), else the rarer of exactly two values. Raises ``DataError`` naming the column at fault for: an absent
    label, a label with missing values or not exactly two classes, absent drop/categorical columns, a
    categorical column with fewer than ``min_categories`` values, non-numeric (and not categorical) or all-missing
    features, and fewer than ``MIN_MINORITY_ROWS`` minority rows.
    """
    if table.empty:
        raise DataError("data", "the table has no rows")
    if label not in table.columns:
        raise DataError(label, f"label column not found; columns are {list(table.columns)[:12]}...")
    for column in [*(drop or []), *(categorical or [])]:
        if column not in table.columns:
            raise DataError(column, "column named in drop/categorical is not in the table")
    if label in (categorical or []) or label in (drop or []):
        raise DataError(label, "the label column cannot also be dropped or categorical")
    y_raw = table[label]
    if y_raw.isna().any():
        raise DataError(label, f"label has {int(y_raw.isna().sum())} missing values")
    classes = y_raw.value_counts()
    if positive:
        as_text = {str(v): v for v in classes.index}
        if positive not in as_text:
            raise DataError(
                "positive", f"{positive!r} is not a value of the label {label!r}; values: {list(as_text)[:8]}"
            )
        if len(classes) < 2:
            raise DataError(label, f"label has one value only ({positive!r}): nothing to tell it from")
        minority = as_text[positive]
        others = [v for v in classes.index if v != minority]
        majority = others[0] if len(others) == 1 else f"not {positive}"
    else:
        if len(classes) != 2:
            raise DataError(
                label,
                f"label must have exactly two classes, found {len(classes)}: {list(classes.index.astype(str))[:5]}; "
                "with more, name the faulty one with --positive",
            )
        minority, majority = classes.index[-1], classes.index[0]
        if classes.iloc[-1] == classes.iloc[0]:
            minority, majority = sorted(classes.index)[-1], sorted(classes.index)[0]
    n_minority = int(classes[minority])
    if n_minority < MIN_MINORITY_ROWS:
        raise DataError(
            label, f"only {n_minority} minority rows ({str(minority)!r}); at least {MIN_MINORITY_ROWS} are needed"
        )

    features = table.drop(columns=[label, *(drop or [])])  # a new frame: setting its columns leaves the table be
    features.columns = [str(c) for c in features.columns]
    if features.shape[1] == 0:
        raise DataError("features", "no feature columns left")
    categorical = [str(c) for c in categorical or []]
    all_missing = [c for c in features.columns if features[c].isna().all()]
    if all_missing:
        raise DataError(all_missing[0], f"feature column has only missing values (all such: {all_missing})")
    for column in categorical:
        features[column] = categories(features[column])
        if features[column].nunique() < min_categories:
            raise DataError(
                column,
                f"categorical column has {features[column].nunique()} distinct value(s): "
                "nothing to learn from it; drop it instead",
            )
    boolean = [c for c in features.columns if c not in categorical and pd.api.types.is_bool_dtype(features[c])]
    non_numeric = [
        c
        for c in features.columns
        if c not in categorical and c not in boolean and not pd.api.types.is_numeric_dtype(features[c])
    ]
    if non_numeric:
        fix = "drop it or name it categorical"
        if _looks_like_dates(features[non_numeric[0]]):
            fix = "it holds dates: name it with --time-column (the split then follows time) or drop it"
        raise DataError(non_numeric[0], f"feature column is not numeric (all non-numeric: {non_numeric}); {fix}")
    numeric = [c for c in features.columns if c not in categorical]
    infinite = [c for c in numeric if np.isinf(features[c].to_numpy(dtype=float)).any()]  # a column at a time:
    if infinite:  # the whole table as one float matrix was the largest copy of a million-row retraining
        raise DataError(infinite[0], f"feature column holds infinite values (all such: {infinite})")
    for column in numeric:  # integers and flags keep their dtype: synthesizers generate them as such
        kept = pd.api.types.is_integer_dtype(features[column]) or pd.api.types.is_bool_dtype(features[column])
        if not kept and features[column].dtype != np.float64:
            features[column] = features[column].astype(float)
    y = (y_raw == minority).astype(int).rename(LABEL)
    return LabelledTable(features, y, str(minority), str(majority), tuple(categorical), tuple(boolean))


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it guesses a format
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return len(sample) > 0 and bool(parsed.notna().all())


def positive_summary(data: LabelledTable, label: str, positive: str) -> str:
    """The line a run prints first about its label: which value is taken as faulty, and why."""
    share = float(data.label.mean())
    why = "named by --positive" if positive else "the rarer of the two values; --positive VALUE names another"
    return (
        f"label {label!r}: {data.positive_label!r} taken as faulty ({why}), {int(data.label.sum())} rows "
        f"({share:.1%}); {data.negative_label!r} is not faulty"
    )


def categories(values: pd.Series) -> pd.Series:
    """A categorical column as ``str`` values, ``None`` where missing (the one form the model and the
    server share: a client sends "1" for the category that the table held as the number 1)."""
    return values.map(lambda v: None if pd.isna(v) else str(v)).astype(object)


def split_mode(split: str, time_column: str) -> str:
    """``random`` or ``time``: ``auto`` follows time when a time column is named (a plant's rows drift, and a
    random split scores a model on rows from the very weeks it learned), else it is random."""
    if split not in SPLITS:
        raise DataError("split", f"must be one of {list(SPLITS)}, got {split!r}")
    if split == "time" and not time_column:
        raise DataError("split", "a time split needs --time-column, the column of when each row was made")
    return "time" if split == "time" or (split == "auto" and time_column) else "random"


def time_values(table: pd.DataFrame, column: str) -> pd.Series:
    """``column`` as numbers (cycles, seconds) or as timestamps (any text pandas parses; with a time zone, made UTC).
    An absent column, a missing value or a value that does not parse is a ``DataError`` naming the column and the
    first bad row."""
    if column not in table.columns:
        raise DataError(column, f"time column not found; columns are {list(table.columns)[:12]}")
    values = table[column]
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(column, f"time column has {int(missing.sum())} missing values (the first in row {row})")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert(None)  # UTC without a zone: numpy datetimes, which sort fast
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = pd.to_datetime(values.astype(str), errors="coerce", utc=True, format="mixed").dt.tz_convert(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            column,
            f"time column does not parse as a number or a date: {values.iloc[row]!r} in row {row} "
            f"({int(bad.sum())} such rows)",
        )
    return parsed


@dataclass(frozen=True)
class Splits:
    """Train / validation / test splits of a ``LabelledTable`` (unscaled): stratified at random, or in time order
    (``by_time`` names the column; each part is then in time order, and ``spans`` says when each part's rows were
    made). ``index`` holds each part's positions in the table."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    index: dict[str, np.ndarray]
    by_time: str = ""
    spans: dict[str, tuple[str, str]] | None = None

    def describe(self) -> str:
        """One line: how the rows were split."""
        sizes = f"train/valid/test {len(self.train)}/{len(self.valid)}/{len(self.test)}"
        if not self.by_time or self.spans is None:
            return f"{sizes}, stratified at random"
        when = "; ".join(f"{part} {first} .. {last}" for part, (first, last) in self.spans.items())
        return f"{sizes} in time order by {self.by_time!r} ({when})"


def split(
    data: LabelledTable,
    test_size: float = 0.2,
    valid_size: float = 0.2,
    seed: int = 0,
    times: pd.Series | None = None,
    time_column: str = "",
) -> Splits:
    """Three-way split; each frame holds the features and the ``label`` column. Without ``times``: stratified at
    random. With ``times`` (one per row of ``data``): train on the earliest rows, validate on the next
    ``valid_size``, test on the latest ``test_size``, each part a ``DataError`` if it holds no faulty row.

    The validation split tunes synthesizers and picks the model; the test split is only reported.
    """
    frame = data.features.assign(**{LABEL: data.label.to_numpy()})
    if times is None:
        positions = np.arange(len(frame))
        rest, test = train_test_split(positions, test_size=test_size, stratify=frame[LABEL], random_state=seed)
        valid_share = valid_size / (1.0 - test_size)
        train, valid = train_test_split(
            rest, test_size=valid_share, stratify=frame[LABEL].to_numpy()[rest], random_state=seed
        )
        index = {"train": train, "valid": valid, "test": test}
        spans = None
    else:
        order = np.argsort(times.to_numpy(), kind="stable")
        n_test, n_valid = int(round(test_size * len(order))), int(round(valid_size * len(order)))
        n_train = len(order) - n_test - n_valid
        index = {
            "train": order[:n_train],
            "valid": order[n_train : n_train + n_valid],
            "test": order[n_train + n_valid :],
        }
        labels = frame[LABEL].to_numpy()
        for part, rows in index.items():
            if labels[rows].sum() == 0:
                raise DataError(
                    time_column or "time",
                    f"the {part} rows of the time split ({len(rows)} rows, {_stamp(times.iloc[rows[0]])} .. "
                    f"{_stamp(times.iloc[rows[-1]])}) hold no faulty row: nothing to score; use --split random",
                )
        spans = {part: (_stamp(times.iloc[rows[0]]), _stamp(times.iloc[rows[-1]])) for part, rows in index.items()}
    parts = {part: frame.iloc[rows].reset_index(drop=True) for part, rows in index.items()}
    return Splits(parts["train"], parts["valid"], parts["test"], index, time_column if spans else "", spans)


def _stamp(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, pd.Timestamp) else f"{value:g}"  # type: ignore[str-format]


class MedianImputer(SimpleImputer):
    """``SimpleImputer(strategy="median")`` with the median taken by ``np.nanmedian``: the same statistics, but
    scikit-learn's masked-array median took 7.9 s and 1.6 GB on 600,000 rows x 66 columns, ``nanmedian`` 0.5 s
    (the largest cost of refitting a champion on a million logged rows). Everything else is SimpleImputer's."""

    def __init__(self, *, missing_values: float = np.nan, copy: bool = True) -> None:
        super().__init__(missing_values=missing_values, strategy="median", copy=copy)

    def fit(self, X, y=None):  # noqa: N803 (scikit-learn's name)
        self.strategy = "mean"  # fast, and sets up every fitted attribute; the statistics are replaced below
        try:
            super().fit(X, y)
        finally:
            self.strategy = "median"
        values = np.asarray(X, dtype=np.float64)
        if not (isinstance(self.missing_values, float) and np.isnan(self.missing_values)):
            values = np.where(values == self.missing_values, np.nan, values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN, as scikit-learn gives
            self.statistics_ = np.nanmedian(values, axis=0)
        return self


def fit_preprocessor(train: pd.DataFrame, categorical: tuple[str, ...] | list[str] = ()) -> ColumnTransformer:
    """Numeric columns: median imputation, scaling to [-1, 1] (the WGAN generator ends in tanh). String
    columns: the most frequent category for a missing one, one-hot (an unknown category becomes an
    all-zero row, never an error), scaled to [-1, 1] alike. Fitted on train; part of every model."""
    features = train.drop(columns=[LABEL])
    numeric = [c for c in features.columns if c not in categorical]
    blocks = []
    if numeric:
        blocks.append(
            (
                "numeric",
                Pipeline([("impute", MedianImputer()), ("scale", MinMaxScaler(feature_range=(-1.0, 1.0)))]),
                numeric,
            )
        )
    if categorical:
        blocks.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(missing_values=None, strategy="most_frequent")),
                        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                        ("scale", MinMaxScaler(feature_range=(-1.0, 1.0))),
                    ]
                ),
                list(categorical),
            )
        )
    pre = ColumnTransformer(blocks, verbose_feature_names_out=False)
    pre.set_output(transform="pandas")
    pre.fit(features)
    return pre


def schema_of(
    pre: ColumnTransformer, features: pd.DataFrame, boolean: tuple[str, ...] | list[str] = ()
) -> TabularSchema:
    """The raw input columns of a model built on ``pre``: types from the table's dtypes, categories as the
    fitted encoder learnt them (so the server's "unknown category" is exactly the model's). ``boolean``
    is kept for callers; a boolean column's dtype says so itself."""
    known: dict[str, tuple[str, ...]] = {}
    for name, transformer, columns in pre.transformers_:
        if name == "categorical":
            encoder = transformer.named_steps["encode"]
            known |= {c: tuple(str(v) for v in cats) for c, cats in zip(columns, encoder.categories_, strict=True)}
    return TabularSchema(
        tuple(
            Column(c, "string", known[c]) if c in known else Column(c, column_type(features[c]))
            for c in features.columns
            if c != LABEL
        )
    )


def column_type(values: pd.Series) -> str:
    """The contract type of a numeric column: "boolean", "long" (integers) or "double"."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    return "long" if pd.api.types.is_integer_dtype(values) else "double"


def transform(pre: ColumnTransformer, frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the fitted preprocessor to a split, keeping the label column."""
    scaled = pre.transform(frame.drop(columns=[LABEL]))
    return scaled.assign(**{LABEL: frame[LABEL].to_numpy()})


def xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Split a frame into features and the 0/1 label array."""
    return frame.drop(columns=[LABEL]), frame[LABEL].to_numpy(dtype=int)


@dataclass(frozen=True)
class Preprocessing:
    """What the ingest step hands on with the splits: the fitted preprocessor, the raw columns the model
    will take, the label's own names for (healthy, faulty), and which columns are categorical or boolean
    (so the same preprocessing can be fitted again on other rows: a cross-validation fold, train + valid)."""

    preprocessor: ColumnTransformer
    schema: TabularSchema
    labels: tuple[str, str]
    categorical: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    key_column: str = ""  # the business key named at training: passed through by the server, not a feature

    @classmethod
    def fit(cls, data: LabelledTable, train: pd.DataFrame, key_column: str = "") -> Preprocessing:
        pre = fit_preprocessor(train, data.categorical)
        return cls(
            pre,
            schema_of(pre, train, data.boolean),
            (data.negative_label, data.positive_label),
            tuple(data.categorical),
            tuple(data.boolean),
            key_column,
        )

    def refit(self, rows: pd.DataFrame) -> Preprocessing:
        """The same preprocessing fitted on other rows (features and label)."""
        pre = fit_preprocessor(rows, self.categorical)
        return Preprocessing(
            pre, schema_of(pre, rows, self.boolean), self.labels, self.categorical, self.boolean, self.key_column
        )

    def save(self, path: str | Path) -> None:
        joblib.dump(self, path)

    @staticmethod
    def load(path: str | Path) -> Preprocessing:
        return joblib.load(path)

    def scaled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A raw split (features and label) in the model's [-1, 1] space."""
        return transform(self.preprocessor, frame)

    def encode(self, features: pd.DataFrame) -> pd.DataFrame:
        """Raw feature rows (no label) in the model's [-1, 1] space (no rows in, no rows out)."""
        if features.empty:
            return pd.DataFrame(columns=list(self.preprocessor.get_feature_names_out()), dtype=float)
        return self.preprocessor.transform(features[self.schema.names])


def fill_missing(rows: pd.DataFrame) -> pd.DataFrame:
    """Missing values filled as the model's own preprocessing fills them (numbers: the median, categories:
    the most frequent one), from ``rows`` themselves: what synthesizers, which take no gaps, learn from."""
    out = rows.copy()
    for column in out.columns:
        if out[column].isna().any():
            numeric = pd.api.types.is_numeric_dtype(out[column]) and not pd.api.types.is_bool_dtype(out[column])
            fill = out[column].median() if numeric else out[column].mode().iloc[0]
            out[column] = out[column].fillna(fill)
    return out
