"""One contract for every model Shopfloor registers: raw columns in, named outputs out.

A registered model is one self-contained MLflow pyfunc model (a ``ShopfloorModel``): its preprocessing
(imputation, scaling, categorical encoding, thresholds) is inside it, its MLflow signature names the
user's raw inputs with their types, and its outputs are declared once, on its class. Inputs come in two
shapes: a ``TabularSchema`` (rows of named columns: classifiers, health index), a ``TensorSchema``
(fixed-length windows of named signals: the milling anomaly detector) or a ``SequenceSchema``
(variable-length sequences: the wear observed so far, for prognosis). The model server serves any
``ShopfloorModel`` through this contract alone:

    request --(inputs.parse_v1 / parse_v2)--> Rows | Windows | Sequences --(predict_rows)--> {output: array}

and MLflow's own ``pyfunc.load_model(...).predict(data)`` takes the same path (``inputs.from_input``
then ``predict_rows``), so the served answer is the pyfunc's answer by construction. Every request
check raises ``DataError`` naming the field (``instances[3].Type``, ``inputs[0].datatype``...), which
the server answers with HTTP 400.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast, runtime_checkable

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from shopfloor.constants import DEFAULT_MAX_BATCH
from shopfloor.errors import DataError

#: Column types a model takes, as MLflow signatures name them. Integer columns are "long": MLflow's own
#: schema check refuses to turn a DataFrame's int64 into double ("cannot safely convert"). The server
#: takes any number for "double" and "long" columns alike; the model sees floats.
COLUMN_TYPES = ("double", "long", "boolean", "string")
#: Open Inference Protocol datatype of each column type (what the v2 metadata endpoint lists).
V2_TYPES = {"double": "FP64", "long": "INT64", "boolean": "BOOL", "string": "BYTES"}
NUMERIC_V2 = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
MLFLOW_OUTPUT_TYPES = {
    "FP64": "double",
    "FP32": "float",
    "INT64": "long",
    "INT32": "integer",
    "BOOL": "boolean",
    "BYTES": "string",
}
CONTRACT_VERSION = 1


@dataclass(frozen=True)
class Column:
    """One raw input column: ``type`` from ``COLUMN_TYPES``; a string column lists the categories seen in
    training (others are still answered, and counted by the server as unknown)."""

    name: str
    type: str = "double"
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"column {self.name!r}: type must be one of {COLUMN_TYPES}, got {self.type!r}")

    @property
    def categorical(self) -> bool:
        return self.type == "string"


@dataclass(frozen=True)
class Output:
    """One named output; ``shape`` is the shape of one row's value (() for a scalar)."""

    name: str
    datatype: str  # Open Inference Protocol datatype: FP64, INT64, BOOL, BYTES
    shape: tuple[int, ...] = ()
    description: str = ""


@dataclass
class Tensor:
    """One Open Inference Protocol input: what the server hands over from its request object."""

    name: str
    shape: list[int]
    datatype: str
    data: Any


@dataclass
class Rows:
    """A checked batch of raw rows: numeric and boolean columns as one float matrix (schema order),
    string columns as one object matrix of ``str`` (``None`` where missing)."""

    numeric: np.ndarray  # (n, numeric columns) float64
    categorical: np.ndarray  # (n, string columns) object
    schema: TabularSchema

    def __len__(self) -> int:
        return len(self.numeric)

    @classmethod
    def stacked(cls, batches: Sequence[Rows]) -> Rows:
        """The rows of ``batches`` (of one schema) as one batch, in order."""
        return cls(
            np.concatenate([b.numeric for b in batches]),
            np.concatenate([b.categorical for b in batches]),
            batches[0].schema,
        )

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame of the raw columns in schema order (what scikit-learn steps take)."""
        data: dict[str, Any] = {}
        num, cat = iter(self.numeric.T), iter(self.categorical.T)
        for column in self.schema.columns:
            data[column.name] = next(cat) if column.categorical else next(num)
        return pd.DataFrame(data, index=pd.RangeIndex(len(self)))


_NUMBERS = frozenset({int, float})  # the types JSON numbers parse to (a bool is not one of them)
_STRINGS = frozenset({str})
_FLAGS = {bool, int, float}


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise DataError(field, f"not a number: {value!r}"[:120], "non_numeric")
    if not math.isfinite(value):
        raise DataError(field, "NaN and infinite values are not accepted", "non_finite")
    return float(value)


def _flag(value: Any, field: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, Real) and value in (0, 1):
        return float(value)
    raise DataError(field, f"expected true or false, got {value!r}"[:120], "wrong_type")


def _category(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise DataError(field, f"expected a category (a string), got {value!r}"[:120], "wrong_type")
    return value


def check_batch(n: int, field: str, max_batch: int) -> None:
    if n == 0:
        raise DataError(field, "empty batch", "empty_batch")
    if n > max_batch:
        raise DataError(field, f"batch of {n} rows exceeds the limit of {max_batch}", "batch_too_large")


class Batch(Protocol):
    """What a schema hands the model after checking a request: a batch of ``len(batch)`` inputs."""

    def __len__(self) -> int: ...


@runtime_checkable
class InputSchema(Protocol):
    """What a registered model takes, as KServe's ``Model`` and MLflow's ``PythonModel`` declare their interfaces:
    the checks of both inference protocols and of MLflow's ``predict``, each naming the field at fault.

    ``TabularSchema`` (raw columns, a row per request row), ``TensorSchema`` (fixed-size windows of signals) and
    ``SequenceSchema`` (variable-length sequences) implement it; the server and the pyfunc only use this.
    """

    @property
    def names(self) -> list[str]: ...

    def to_dict(self) -> Any: ...

    def v2_inputs(self) -> list[dict[str, Any]]: ...

    def v2_request(self, instances: list[Any]) -> list[dict[str, Any]]: ...

    def mlflow_schema(self) -> Any: ...

    def parse_v1(self, payload: Any, max_batch: int = DEFAULT_MAX_BATCH) -> Batch: ...

    def parse_v2(self, inputs: Sequence[Tensor], max_batch: int = DEFAULT_MAX_BATCH) -> Batch: ...

    def from_input(self, model_input: Any) -> Batch: ...

    def unknown_categories(self, rows: Any) -> dict[str, int]: ...


@dataclass(frozen=True)
class TabularSchema:
    """The raw columns a model takes, in order, and how requests for them are parsed and checked."""

    columns: tuple[Column, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    _numeric: tuple[Column, ...] = field(init=False, repr=False, compare=False)
    _categorical: tuple[Column, ...] = field(init=False, repr=False, compare=False)
    _layout: tuple[list[int], list[int], set[int]] = field(init=False, repr=False, compare=False)
    _slots: list[tuple[Any, int, int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        numeric = tuple(c for c in self.columns if not c.categorical)
        categorical = tuple(c for c in self.columns if c.categorical)
        # Where each column's value goes, computed once: requests are parsed thousands of times a second.
        layout = (
            [j for j, c in enumerate(self.columns) if not c.categorical],
            [j for j, c in enumerate(self.columns) if c.categorical],
            {k for k, c in enumerate(numeric) if c.type == "boolean"},
        )
        slots: list[tuple[Callable[[Any, str], Any], int, int]] = []
        n = c = 0
        for column in self.columns:  # (value parser, 0 numeric / 1 string matrix, position in it)
            if column.categorical:
                slots.append((_category, 1, c))
                c += 1
            else:
                slots.append((_flag if column.type == "boolean" else _number, 0, n))
                n += 1
        for name, value in (
            ("_index", {name: j for j, name in enumerate(names)}),
            ("_numeric", numeric),
            ("_categorical", categorical),
            ("_layout", layout),
            ("_slots", slots),
        ):
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------ description
    @property
    def names(self) -> list[str]:
        return list(self._index)

    @property
    def numeric(self) -> list[Column]:
        return list(self._numeric)

    @property
    def categorical(self) -> list[Column]:
        return list(self._categorical)

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "type": c.type, **({"categories": list(c.categories)} if c.categorical else {})}
            for c in self.columns
        ]

    @classmethod
    def from_dict(cls, columns: Sequence[Mapping[str, Any]]) -> TabularSchema:
        return cls(tuple(Column(c["name"], c["type"], tuple(c.get("categories", ()))) for c in columns))

    def v2_inputs(self) -> list[dict[str, Any]]:
        """The Open Inference Protocol metadata of the inputs (one [n] tensor per column)."""
        return [{"name": c.name, "datatype": V2_TYPES[c.type], "shape": [-1]} for c in self.columns]

    def v2_request(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The v2 inputs for v1 ``instances`` (rows as lists or ``{column: value}``): one [n, columns] FP64 tensor
        ``rows`` for a model without string columns, else one [n] tensor per column."""
        rows = [r if isinstance(r, Mapping) else dict(zip(self.names, r, strict=True)) for r in instances]
        if not self._categorical:
            data = [float(r[name]) for r in rows for name in self.names]
            return [{"name": "rows", "datatype": "FP64", "shape": [len(rows), len(self.names)], "data": data}]
        return [
            {
                "name": c.name,
                "datatype": "BYTES" if c.categorical else "FP64",
                "shape": [len(rows)],
                "data": [r[c.name] if c.categorical else float(r[c.name]) for r in rows],
            }
            for c in self.columns
        ]

    def mlflow_schema(self):
        from mlflow.types import ColSpec, Schema

        return Schema([ColSpec(c.type, c.name) for c in self.columns])

    # ------------------------------------------------------------ parsing
    def _empty(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.empty((n, len(self.numeric))), np.empty((n, len(self.categorical)), dtype=object)

    def parse_v1(self, payload: Any, max_batch: int = DEFAULT_MAX_BATCH) -> Rows:
        """``{"instances": [...]}`` with rows as lists in column order or as ``{column: value}`` objects.

        Each row is checked in bulk (types, then finiteness); only a row that fails is walked value by
        value, to name the field at fault.
        """
        if not isinstance(payload, dict) or "instances" not in payload:
            raise DataError("instances", 'the body must be a JSON object with an "instances" list', "malformed")
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise DataError("instances", "must be a list of rows", "malformed")
        check_batch(len(instances), "instances", max_batch)
        numeric, categorical = self._empty(len(instances))
        width, names, keys = len(self.columns), list(self._index), self._index.keys()
        num_pos, cat_pos, flag_pos = self._layout
        for i, row in enumerate(instances):
            if type(row) is list:
                if len(row) != width:
                    raise DataError(
                        f"instances[{i}]", f"expected {width} values, got {len(row)}", "wrong_feature_count"
                    )
                values = row
            elif type(row) is dict:
                if row.keys() != keys:  # set comparison in C: the same columns, none missing or unknown
                    self._name_problem(row, f"instances[{i}]")
                values = list(map(row.__getitem__, names))
            else:
                raise DataError(
                    f"instances[{i}]", "a row is a list of values or an object of column: value", "malformed"
                )
            nums = [values[j] for j in num_pos] if cat_pos else values
            cats = [values[j] for j in cat_pos]
            if flag_pos:
                ok = all(
                    type(v) in _FLAGS and v in (0, 1) if k in flag_pos else type(v) in _NUMBERS
                    for k, v in enumerate(nums)
                )
            else:  # the types of a row's values as one set, built in C (a generator costs ~0.2 us a value)
                ok = _NUMBERS.issuperset(map(type, nums))
            if not ok or not _STRINGS.issuperset(map(type, cats)):
                self._diagnose(row, i)
            numeric[i] = nums
            categorical[i] = cats
        finite = np.isfinite(numeric).all(axis=1)
        if not finite.all():
            first = int(np.flatnonzero(~finite)[0])
            self._diagnose(instances[first], first)
        return Rows(numeric, categorical, self)

    def _diagnose(self, row: list | dict, i: int) -> None:
        """Walk one row value by value and raise the ``DataError`` that names its first bad field."""
        where = f"instances[{i}]"
        items = (
            ((self._index[k], v, f"{where}.{k}") for k, v in row.items())
            if isinstance(row, dict)
            else ((j, v, f"{where}[{j}]") for j, v in enumerate(row))
        )
        for j, value, at in items:
            self._slots[j][0](value, at)
        raise AssertionError(f"{where}: a row failed the bulk check but no value failed its own")

    def _name_problem(self, row: dict, where: str) -> None:
        unknown = [k for k in row if k not in self._index]
        if unknown:
            raise DataError(where, f"unknown column {str(unknown[0])!r}"[:160], "unknown_feature")
        missing = [name for name in self.names if name not in row]
        raise DataError(where, f"missing {len(missing)} columns, first {missing[0]!r}", "missing_feature")

    def parse_v2(self, inputs: Sequence[Tensor], max_batch: int = DEFAULT_MAX_BATCH) -> Rows:
        """Open Inference Protocol inputs: one numeric tensor of shape [n, columns] (models without string
        columns), or one tensor of shape [n] per column, named as the columns (BYTES for string columns)."""
        if not inputs:
            raise DataError("inputs", "no input tensor", "malformed")
        if len(inputs) == 1 and len(inputs[0].shape or []) == 2:
            return self._matrix(inputs[0], max_batch)
        by_name: dict[str, tuple[int, Tensor]] = {}
        for k, tensor in enumerate(inputs):
            if tensor.name not in self._index:
                raise DataError(
                    f"inputs[{k}].name",
                    f"unknown column {tensor.name!r}; send one [n, "
                    f"{len(self.columns)}] tensor or one [n] tensor per column"[:200],
                    "unknown_feature",
                )
            by_name[tensor.name] = (k, tensor)
        missing = [name for name in self.names if name not in by_name]
        if missing:
            raise DataError("inputs", f"missing {len(missing)} columns, first {missing[0]!r}", "missing_feature")
        lengths = set()
        arrays = []
        for column in self.columns:
            k, tensor = by_name[column.name]
            if len(tensor.shape or []) != 1:
                raise DataError(
                    f"inputs[{k}].shape", f"a per-column tensor has shape [n], got {tensor.shape}", "bad_shape"
                )
            array = self._tensor_values(column, tensor, f"inputs[{k}]")
            lengths.add(len(array))
            arrays.append(array)
        if len(lengths) != 1:
            raise DataError("inputs", "per-column tensors must all have the same length n", "bad_shape")
        n = lengths.pop()
        check_batch(n, "inputs", max_batch)
        numeric, categorical = self._empty(n)
        for (_, target, j), array in zip(self._slots, arrays, strict=True):
            (numeric if target == 0 else categorical)[:, j] = array
        return Rows(numeric, categorical, self)

    def _matrix(self, tensor: Tensor, max_batch: int) -> Rows:
        if self._categorical:
            names = ", ".join(c.name for c in self._categorical)
            raise DataError(
                "inputs[0].shape",
                f"this model takes string columns ({names}): send one [n] tensor per column, BYTES for the string ones",
                "bad_shape",
            )
        values = _numeric_tensor(tensor, "inputs[0]")
        rows = values.reshape(tensor.shape)
        if rows.shape[1] != len(self.columns):
            raise DataError(
                "inputs[0].shape", f"expected [n, {len(self.columns)}], got {list(rows.shape)}", "wrong_feature_count"
            )
        check_batch(rows.shape[0], "inputs[0]", max_batch)
        flags = self._layout[2]  # with no string columns, numeric positions are column positions
        if flags and not np.isin(rows[:, sorted(flags)], (0.0, 1.0)).all():
            raise DataError("inputs[0].data", "boolean columns take 0 or 1", "wrong_type")
        return Rows(rows, np.empty((len(rows), 0), dtype=object), self)

    @staticmethod
    def _tensor_values(column: Column, tensor: Tensor, where: str) -> np.ndarray:
        if column.categorical:
            if tensor.datatype != "BYTES":
                raise DataError(
                    f"{where}.datatype",
                    f"column {column.name!r} takes categories: send BYTES, not {tensor.datatype!r}",
                    "wrong_type",
                )
            data = list(tensor.data) if isinstance(tensor.data, list | tuple) else []
            if len(data) != int(np.prod(tensor.shape)):
                raise DataError(
                    f"{where}.shape", f"shape {tensor.shape} does not match {len(data)} values", "bad_shape"
                )
            return np.array(
                [
                    _category(v.decode() if isinstance(v, bytes) else v, f"{where}.data[{i}]")
                    for i, v in enumerate(data)
                ],
                dtype=object,
            )
        if column.type == "boolean" and tensor.datatype == "BOOL":
            return np.asarray(tensor.data, dtype=bool).reshape(-1).astype(np.float64)
        values = _numeric_tensor(tensor, where)
        if column.type == "boolean" and not np.isin(values, (0.0, 1.0)).all():
            raise DataError(f"{where}.data", f"column {column.name!r} takes true/false or 0/1", "wrong_type")
        return values

    def from_input(self, model_input: Any) -> Rows:
        """What MLflow's ``predict`` hands over (a DataFrame of the raw columns), as checked rows."""
        return self.from_frame(pd.DataFrame(model_input))

    def from_frame(self, frame: pd.DataFrame) -> Rows:
        """Rows from a DataFrame of the raw columns (the pyfunc path; MLflow has checked the types)."""
        missing = [name for name in self.names if name not in frame.columns]
        if missing:
            raise DataError(missing[0], f"column is missing ({len(missing)} missing)", "missing_feature")
        n = len(frame)
        # C order, as parsed requests are: the same rows give the same floating-point sums either way
        numeric = (
            np.ascontiguousarray(frame[[c.name for c in self.numeric]].to_numpy(dtype=np.float64))
            if self.numeric
            else np.empty((n, 0))
        )
        categorical = np.empty((n, len(self.categorical)), dtype=object)
        for k, column in enumerate(self.categorical):
            values = frame[column.name]
            categorical[:, k] = [
                None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values
            ]
        return Rows(numeric, categorical, self)

    def unknown_categories(self, rows: Rows) -> dict[str, int]:
        """How many values of each string column were not seen in training ({} for numeric models)."""
        out = {}
        for k, column in enumerate(self.categorical):
            known = set(column.categories)
            count = sum(1 for v in rows.categorical[:, k] if v not in known)
            if count:
                out[column.name] = count
        return out


@dataclass
class Windows:
    """A checked batch of windows: ``values`` of shape (n, length, signals), float64."""

    values: np.ndarray
    schema: TensorSchema

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def stacked(cls, batches: Sequence[Windows]) -> Windows:
        """The windows of ``batches`` (of one schema) as one batch, in order."""
        return cls(np.concatenate([b.values for b in batches]), batches[0].schema)


@dataclass(frozen=True)
class TensorSchema:
    """Fixed-length windows of named signals: one instance is a [length, signals] array (a milling sub-cut).

    v1 takes ``{"instances": [window, ...]}`` with each window a list of ``length`` time steps of
    ``len(signals)`` numbers (or one window alone); v2 takes one tensor of shape [n, length, signals] (or
    [length, signals] for one window). A wrong length, a wrong signal count, a value that is not a number
    or not finite is refused naming the place: ``instances[2]``, ``instances[2][17][3]``, ``inputs[0].shape``.
    """

    name: str
    length: int
    signals: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.length < 1 or not self.signals:
            raise ValueError("a tensor schema needs a positive length and at least one signal")

    # ------------------------------------------------------------ description
    @property
    def names(self) -> list[str]:
        return list(self.signals)

    @property
    def shape(self) -> tuple[int, int]:
        return self.length, len(self.signals)

    def to_dict(self) -> dict[str, Any]:
        return {"tensor": self.name, "length": self.length, "signals": list(self.signals)}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> TensorSchema:
        return cls(spec["tensor"], int(spec["length"]), tuple(spec["signals"]))

    def v2_inputs(self) -> list[dict[str, Any]]:
        return [{"name": self.name, "datatype": "FP32", "shape": [-1, *self.shape]}]

    def v2_request(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The v2 input for v1 ``instances`` (windows): one [n, length, signals] FP32 tensor."""
        values = np.asarray(instances, dtype=np.float64)
        return [{"name": self.name, "datatype": "FP32", "shape": list(values.shape), "data": values.ravel().tolist()}]

    def mlflow_schema(self):
        from mlflow.types import Schema, TensorSpec

        return Schema([TensorSpec(np.dtype(np.float32), (-1, *self.shape))])

    def unknown_categories(self, rows: Windows) -> dict[str, int]:
        return {}

    # ------------------------------------------------------------ parsing
    def _checked(self, values: np.ndarray, where: str, max_batch: int) -> Windows:
        if values.ndim == 2:
            values = values[None]
        if values.ndim != 3 or values.shape[1:] != self.shape:
            raise DataError(
                where,
                f"expected windows of shape [{self.length}, {len(self.signals)}] (time steps, "
                f"signals {', '.join(self.signals)}), got {list(values.shape)}",
                "bad_shape",
            )
        check_batch(len(values), where, max_batch)
        finite = np.isfinite(values)
        if not finite.all():
            i, t, c = (int(k) for k in np.argwhere(~finite)[0])
            raise DataError(
                f"{where}[{i}][{t}][{c}]",
                f"signal {self.signals[c]!r}: NaN and infinite values are not accepted",
                "non_finite",
            )
        return Windows(np.ascontiguousarray(values, dtype=np.float64), self)

    def parse_v1(self, payload: Any, max_batch: int = DEFAULT_MAX_BATCH) -> Windows:
        if not isinstance(payload, dict) or "instances" not in payload:
            raise DataError("instances", 'the body must be a JSON object with an "instances" list', "malformed")
        instances = payload["instances"]
        if not isinstance(instances, list) or not instances:
            raise DataError(
                "instances", "must be a non-empty list of windows", "malformed" if instances else "empty_batch"
            )
        try:
            values = np.array(instances)
        except (TypeError, ValueError):  # ragged lists
            values = np.empty(0, dtype=object)
        if values.dtype.kind not in "fiu":  # ragged, or strings or nulls among the numbers
            self._diagnose(instances)
        if values.ndim == 2 and values.shape == self.shape:  # one window sent alone
            values = values[None]
        if values.ndim != 3:
            self._diagnose(instances)
        return self._checked(values.astype(np.float64), "instances", max_batch)

    def _diagnose(self, instances: list) -> None:
        """Name the first window, time step or value that keeps the request from being a numeric array."""
        length, width = self.shape
        for i, window in enumerate(instances):
            if not isinstance(window, list) or len(window) != length:
                got = len(window) if isinstance(window, list) else type(window).__name__
                raise DataError(f"instances[{i}]", f"a window is a list of {length} time steps, got {got}", "bad_shape")
            for t, step in enumerate(window):
                if not isinstance(step, list) or len(step) != width:
                    got = len(step) if isinstance(step, list) else type(step).__name__
                    raise DataError(
                        f"instances[{i}][{t}]",
                        f"a time step holds {width} signals ({', '.join(self.signals)}), got {got}",
                        "bad_shape",
                    )
                for c, value in enumerate(step):
                    _number(value, f"instances[{i}][{t}][{c}]")
        raise DataError("instances", f"expected a list of [{length}, {width}] windows", "bad_shape")

    def parse_v2(self, inputs: Sequence[Tensor], max_batch: int = DEFAULT_MAX_BATCH) -> Windows:
        if len(inputs) != 1:
            raise DataError(
                "inputs",
                f"send one tensor {self.name!r} of shape [n, {self.length}, "
                f"{len(self.signals)}], got {len(inputs)} tensors",
                "malformed",
            )
        tensor = inputs[0]
        shape = list(tensor.shape or [])
        if len(shape) not in (2, 3) or shape[-2:] != list(self.shape):
            raise DataError(
                "inputs[0].shape",
                f"expected [n, {self.length}, {len(self.signals)}] (windows, time steps, signals), got {shape}",
                "bad_shape",
            )
        values = _numeric_tensor(tensor, "inputs[0]", finite=False)  # _checked names the first bad position
        return self._checked(values.reshape(shape), "inputs[0].data", max_batch)

    def from_input(self, model_input: Any) -> Windows:
        """MLflow's ``predict`` input: an array of windows (or one window), or a dict holding one."""
        if isinstance(model_input, dict):
            model_input = model_input.get(self.name, next(iter(model_input.values()), None))
        return self._checked(np.asarray(model_input, dtype=np.float64), "input", 1 << 31)


@dataclass
class Sequences:
    """A checked batch of variable-length sequences (one float64 array each)."""

    values: list[np.ndarray]
    schema: SequenceSchema

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def stacked(cls, batches: Sequence[Sequences]) -> Sequences:
        """The sequences of ``batches`` (of one schema) as one batch, in order."""
        return cls([v for b in batches for v in b.values], batches[0].schema)


@dataclass(frozen=True)
class SequenceSchema:
    """Variable-length sequences of one measured quantity (a tool's wear so far): one instance is a list.

    v1 takes ``{"instances": [[...], [...]]}`` (or ``[{"wear": [...]}]``, or one sequence alone: a list of
    numbers); v2 takes a tensor named ``name`` of shape [n, L] (or [L]) with, for sequences of different
    lengths, an INT64 tensor ``length`` of shape [n] (values after a sequence's length are ignored, so any
    padding will do). Each sequence needs ``min_length`` to ``max_length`` finite values in [lower, upper].
    """

    name: str
    min_length: int = 2
    max_length: int = 1000
    lower: float = -math.inf
    upper: float = math.inf
    unit: str = ""

    @property
    def names(self) -> list[str]:
        return [self.name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequence": self.name,
            "min_length": self.min_length,
            "max_length": self.max_length,
            "lower": self.lower,
            "upper": self.upper,
            "unit": self.unit,
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SequenceSchema:
        return cls(
            spec["sequence"],
            int(spec["min_length"]),
            int(spec["max_length"]),
            float(spec["lower"]),
            float(spec["upper"]),
            spec.get("unit", ""),
        )

    def v2_inputs(self) -> list[dict[str, Any]]:
        return [
            {"name": self.name, "datatype": "FP64", "shape": [-1, -1]},
            {"name": "length", "datatype": "INT64", "shape": [-1]},
        ]

    def v2_request(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The v2 inputs for v1 ``instances`` (sequences): one [n, L] FP64 tensor, shorter sequences padded with
        zeros, and their ``length``."""
        width = max(len(v) for v in instances)
        padded = [float(x) for v in instances for x in [*v, *[0.0] * (width - len(v))]]
        return [
            {"name": self.name, "datatype": "FP64", "shape": [len(instances), width], "data": padded},
            {"name": "length", "datatype": "INT64", "shape": [len(instances)], "data": [len(v) for v in instances]},
        ]

    def mlflow_schema(self):
        from mlflow.types import DataType
        from mlflow.types.schema import Array, ColSpec, Schema

        return Schema([ColSpec(Array(DataType.double), self.name)])

    def unknown_categories(self, rows: Sequences) -> dict[str, int]:
        return {}

    def check(self, values: Any, where: str) -> np.ndarray:
        """One sequence, checked: a list of ``min_length`` to ``max_length`` finite numbers within bounds."""
        if not isinstance(values, list | tuple | np.ndarray):
            raise DataError(
                where, f"a {self.name} sequence is a list of numbers, got {type(values).__name__}", "malformed"
            )
        if not self.min_length <= len(values) <= self.max_length:
            raise DataError(
                where,
                f"a {self.name} sequence needs {self.min_length} to {self.max_length} values, got {len(values)}",
                "bad_shape",
            )
        for i, value in enumerate(values):
            if value is None or isinstance(value, bool) or not isinstance(value, Real):
                raise DataError(f"{where}[{i}]", f"not a number: {value!r}"[:120], "non_numeric")
        array = np.asarray(values, dtype=np.float64)
        bad = ~np.isfinite(array)
        if bad.any():
            raise DataError(f"{where}[{int(np.argmax(bad))}]", "NaN and infinite values are not accepted", "non_finite")
        outside = (array < self.lower) | (array > self.upper)
        if outside.any():
            i = int(np.argmax(outside))
            unit = f" {self.unit}" if self.unit else ""
            raise DataError(
                f"{where}[{i}]", f"{array[i]:g}{unit} is outside [{self.lower:g}, {self.upper:g}]{unit}", "out_of_range"
            )
        return array

    def parse_v1(self, payload: Any, max_batch: int = DEFAULT_MAX_BATCH) -> Sequences:
        if not isinstance(payload, dict) or "instances" not in payload:
            raise DataError("instances", 'the body must be a JSON object with an "instances" list', "malformed")
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise DataError("instances", f"must be a list of {self.name} sequences", "malformed")
        if instances and all(isinstance(v, Real) and not isinstance(v, bool) for v in instances):
            return Sequences([self.check(instances, "instances")], self)  # one sequence sent alone
        check_batch(len(instances), "instances", max_batch)
        out = []
        for i, item in enumerate(instances):
            if isinstance(item, dict):
                if set(item) != {self.name}:
                    raise DataError(f"instances[{i}]", f"an object holds one key, {self.name!r}", "malformed")
                out.append(self.check(item[self.name], f"instances[{i}].{self.name}"))
            else:
                out.append(self.check(item, f"instances[{i}]"))
        return Sequences(out, self)

    def parse_v2(self, inputs: Sequence[Tensor], max_batch: int = DEFAULT_MAX_BATCH) -> Sequences:
        by_name = {t.name: (k, t) for k, t in enumerate(inputs)}
        unknown = [t.name for t in inputs if t.name not in (self.name, "length")]
        if unknown or self.name not in by_name:
            raise DataError(
                "inputs",
                f"send a tensor {self.name!r} of shape [n, L] (and 'length' [n] for sequences "
                f"shorter than L); got {[t.name for t in inputs]}",
                "malformed",
            )
        k, tensor = by_name[self.name]
        shape = list(tensor.shape or [])
        if len(shape) not in (1, 2):
            raise DataError(f"inputs[{k}].shape", f"expected [n, L] or [L], got {shape}", "bad_shape")
        values = _numeric_tensor(tensor, f"inputs[{k}]", finite=False).reshape(shape if len(shape) == 2 else [1, -1])
        check_batch(len(values), f"inputs[{k}]", max_batch)
        if "length" in by_name:
            j, lengths_tensor = by_name["length"]
            lengths = _numeric_tensor(lengths_tensor, f"inputs[{j}]").astype(np.int64).reshape(-1)
            if len(lengths) != len(values):
                raise DataError(
                    f"inputs[{j}].shape",
                    f"one length per sequence: {len(values)} sequences, {len(lengths)} lengths",
                    "bad_shape",
                )
            if (lengths < 0).any() or (lengths > values.shape[1]).any():
                raise DataError(
                    f"inputs[{j}].data", f"lengths must be between 0 and L = {values.shape[1]}", "bad_shape"
                )
        else:
            lengths = np.full(len(values), values.shape[1])
        return Sequences(
            [
                self.check(row[:n].tolist(), f"inputs[{k}].data[{i}]")
                for i, (row, n) in enumerate(zip(values, lengths, strict=True))
            ],
            self,
        )

    def from_input(self, model_input: Any) -> Sequences:
        """MLflow's ``predict`` input: a DataFrame with a column of sequences, a dict, or a list of lists."""
        if isinstance(model_input, pd.DataFrame):
            if self.name not in model_input.columns:
                raise DataError(self.name, "column is missing", "missing_feature")
            items = list(model_input[self.name])
        elif isinstance(model_input, dict):
            items = list(model_input.get(self.name, []))
        else:
            items = list(model_input)
        return Sequences(
            [self.check(list(np.asarray(v, dtype=np.float64)), f"{self.name}[{i}]") for i, v in enumerate(items)], self
        )


@dataclass
class Images:
    """A checked batch of images, each decoded to a [size, size] float32 grayscale array in [0, 1]."""

    values: np.ndarray
    schema: ImageSchema

    def __len__(self) -> int:
        return len(self.values)

    @classmethod
    def stacked(cls, batches: Sequence[Images]) -> Images:
        """The images of ``batches`` (of one schema) as one batch, in order."""
        return cls(np.concatenate([b.values for b in batches]), batches[0].schema)


#: The start of base64 text, as bytes: what MLflow's pyfunc serving hands over for a binary column. Every image
#: format read here starts with a byte outside this alphabet within its first bytes (PNG 0x89, JPEG 0xFF, BMP's
#: and TIFF's header zeros).
BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\s]+")


def _image_bytes(value: Any, where: str) -> bytes:
    """An image sent as bytes, as base64 text (one line, or wrapped in lines), or as KServe's ``{"b64": "..."}``."""
    import base64
    import binascii

    if isinstance(value, Mapping):
        if "b64" not in value:
            raise DataError(where, 'an image is {"b64": "<base64 of the file>"}', "malformed")
        value = value["b64"]
    if isinstance(value, bytes | bytearray):
        if BASE64_TEXT.fullmatch(bytes(value[:64])):  # base64 text as bytes (MLflow's binary columns)
            with contextlib.suppress(binascii.Error, ValueError):
                return base64.b64decode(b"".join(bytes(value).split()), validate=True)
        return bytes(value)  # an image file: its first bytes leave base64's alphabet
    if not isinstance(value, str):
        raise DataError(where, f"an image is base64 text, got {type(value).__name__}", "malformed")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:  # base64 wrapped in lines (``base64 FILE`` without -w0, MLflow's stored examples)
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DataError(where, "is not valid base64", "malformed") from None


@dataclass(frozen=True)
class ImageSchema:
    """Images of any size, grayscale or colour (PNG, JPEG, BMP or TIFF), turned into [size, size] grayscale inside
    the model. v1 takes ``{"instances": [{"image": {"b64": "..."}}, ...]}`` (KServe's image convention; an
    instance may also be ``{"b64": ...}`` or the base64 text alone); v2 one BYTES tensor ``image`` with an image
    file per element; MLflow's ``predict`` a DataFrame with an ``image`` column of bytes or base64 text. A file
    that is not an image, an empty, truncated or oversized one is refused naming the instance."""

    name: str = "image"
    size: int = 64

    @property
    def names(self) -> list[str]:
        return [self.name]

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.name, "size": self.size}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ImageSchema:
        return cls(spec["image"], int(spec["size"]))

    def v2_inputs(self) -> list[dict[str, Any]]:
        return [{"name": self.name, "datatype": "BYTES", "shape": [-1]}]

    def _files(self, instances: list[Any]) -> list[Any]:
        """Each v1 instance's image file: ``{"image": {"b64": ...}}``, ``{"b64": ...}`` or the base64 text."""
        return [i.get(self.name, i) if isinstance(i, Mapping) and "b64" not in i else i for i in instances]

    def v2_request(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The v2 input for v1 ``instances``: one BYTES tensor, an image file (base64 text in JSON) per element."""
        data = [f["b64"] if isinstance(f, Mapping) else f for f in self._files(instances)]
        return [{"name": self.name, "datatype": "BYTES", "shape": [len(data)], "data": data}]

    def mlflow_schema(self):
        from mlflow.types import ColSpec, DataType, Schema

        return Schema([ColSpec(DataType.binary, self.name)])

    def unknown_categories(self, rows: Images) -> dict[str, int]:
        return {}

    def _decoded(self, files: Sequence[Any], where: Callable[[int], str], max_batch: int) -> Images:
        from shopfloor.data.images import decode

        if not files:
            raise DataError(where(0).split("[")[0], "no images", "empty_batch")
        check_batch(len(files), where(0).split("[")[0], max_batch)
        values = np.stack([decode(_image_bytes(f, where(i)), where(i)) for i, f in enumerate(files)])
        return Images(values, self)

    def parse_v1(self, payload: Any, max_batch: int = DEFAULT_MAX_BATCH) -> Images:
        if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
            raise DataError("instances", 'the body must be a JSON object with an "instances" list', "malformed")
        return self._decoded(self._files(payload["instances"]), lambda i: f"instances[{i}]", max_batch)

    def parse_v2(self, inputs: Sequence[Tensor], max_batch: int = DEFAULT_MAX_BATCH) -> Images:
        if len(inputs) != 1 or inputs[0].datatype != "BYTES":
            raise DataError("inputs", f"send one BYTES tensor {self.name!r}, one image file per element", "malformed")
        return self._decoded(list(inputs[0].data), lambda i: f"inputs[0].data[{i}]", max_batch)

    def from_input(self, model_input: Any) -> Images:
        if isinstance(model_input, pd.DataFrame):
            model_input = model_input[self.name].tolist() if self.name in model_input else []
        elif isinstance(model_input, Mapping):
            model_input = list(model_input.get(self.name, []))
        if isinstance(model_input, np.ndarray) and model_input.ndim == 3:  # decoded already: [n, size, size]
            return Images(np.asarray(model_input, dtype=np.float32), self)
        return self._decoded(list(model_input), lambda i: f"input[{i}]", 1 << 31)


def schema_from_dict(spec: Any) -> InputSchema:
    """The input schema kept in a model's metadata: a list of columns, or a tensor, sequence or image description."""
    if isinstance(spec, Mapping) and "tensor" in spec:
        return TensorSchema.from_dict(spec)
    if isinstance(spec, Mapping) and "sequence" in spec:
        return SequenceSchema.from_dict(spec)
    if isinstance(spec, Mapping) and "image" in spec:
        return ImageSchema.from_dict(spec)
    return TabularSchema.from_dict(spec)


def _numeric_tensor(tensor: Tensor, where: str, finite: bool = True) -> np.ndarray:
    if tensor.datatype not in NUMERIC_V2:
        raise DataError(f"{where}.datatype", f"{tensor.datatype!r} is not supported; send FP32 or FP64", "bad_datatype")
    try:
        values = np.array(tensor.data, dtype=np.float64).reshape(-1)  # a fresh C-ordered array
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}.data", f"not numeric: {exc}"[:160], "non_numeric") from exc
    expected = int(np.prod(tensor.shape)) if tensor.shape else 0
    if values.size != expected:
        raise DataError(
            f"{where}.shape", f"shape {tensor.shape} holds {expected} values, data has {values.size}", "bad_shape"
        )
    if finite and not np.isfinite(values).all():
        raise DataError(f"{where}.data", "NaN and infinite values are not accepted", "non_finite")
    return values


SchemaT = TypeVar("SchemaT", bound=InputSchema)
BatchT = TypeVar("BatchT", bound=Batch)


SCORE_CHUNK = 4096  # rows checked and scored at a time by ``ShopfloorModel.score_table``


def _shift(field: str, offset: int) -> str:
    """``instances[i]...`` of a chunk starting at row ``offset`` of the file, as ``row offset+i...``."""
    import re

    return re.sub(r"^instances\[(\d+)\]", lambda m: f"row {int(m.group(1)) + offset}", field)


class ShopfloorModel(PythonModel, Generic[SchemaT, BatchT]):
    """The base of every registered model: ``inputs`` (a schema of raw columns), ``OUTPUTS`` (declared on
    the subclass) and ``predict_rows``, the one scoring function that the pyfunc and the server share. A kind
    names its schema and the batch it parses to (``ShopfloorModel[TabularSchema, Rows]``)."""

    OUTPUTS: ClassVar[tuple[Output, ...]] = ()
    #: What the model is: its name in the catalog of kinds (``shopfloor.kinds``), logged in the metadata.
    KIND: ClassVar[str] = "model"
    #: The output whose presence in a logged answer tells this kind apart (live quality reads logs, not models).
    ANSWER: ClassVar[str] = ""

    inputs: SchemaT

    def predict_rows(self, rows: BatchT) -> dict[str, np.ndarray]:
        """Each declared output for the checked ``rows``, as arrays of ``len(rows)`` values."""
        raise NotImplementedError

    def stack(self, batches: Sequence[BatchT]) -> BatchT | None:
        """The rows of several checked batches as one, for the server to score requests that arrive together in
        one call; None (the default) where this kind does not score each row on its own (a health index's rows
        are one unit's history), and the server then scores each request alone."""
        return None

    def score_table(self, frame: pd.DataFrame, explain: bool = False) -> pd.DataFrame:
        """Batch scoring of a table (``shopfloor predict``): ``frame`` with one column per output added (and
        ``explanation``, each row's as JSON text, with ``explain``). Rows are checked as the server checks a
        request, a chunk at a time, so a bad value is named by its row. Kinds whose input is not table rows
        (windows, images, wear sequences) are served, not batch-scored from a table."""
        import json

        if not isinstance(self.inputs, TabularSchema):
            raise DataError(
                "data",
                f"this {self.KIND} model takes {type(self.inputs).__name__} inputs, not table rows: serve it "
                "(shopfloor serve) and send them",
            )
        frame = frame.reset_index(drop=True)
        for column in self.inputs.numeric:  # a CSV column with one bad value is read as text: name that value
            values = frame.get(column.name)
            if values is not None and values.dtype == object and not column.type == "boolean":
                numbers = pd.to_numeric(values, errors="coerce")
                bad = numbers.isna() & values.notna()
                if bad.any():
                    at = int(np.flatnonzero(bad.to_numpy())[0])
                    raise DataError(f"row {at}.{column.name}", f"not a number: {values.iloc[at]!r}", "bad_type")
                frame[column.name] = numbers
        answers: dict[str, list] = {o.name: [] for o in self.outputs}
        texts: list[str] = []
        for first in range(0, len(frame), SCORE_CHUNK):
            chunk = frame.iloc[first : first + SCORE_CHUNK][list(self.inputs.names)]
            records = chunk.astype(object).where(chunk.notna(), None).to_dict("records")
            try:
                rows = cast(BatchT, self.inputs.parse_v1({"instances": records}, max_batch=len(records)))
            except DataError as exc:  # instances[i] is row first + i of the file
                raise DataError(_shift(exc.field, first), str(exc).split(": ", 1)[-1], exc.reason) from None
            for name, found in self.predict_rows(rows).items():
                answers[name] += np.asarray(found).tolist()
            if explain:
                texts += [json.dumps(r) for r in self.explain_rows(rows)["rows"]]
        out = frame.copy()
        for name, answered in answers.items():
            out[name] = answered
        if explain:
            out["explanation"] = texts
        return out

    def explain_rows(self, rows: BatchT) -> dict[str, Any]:
        """Per row, what moved the answer and by how much (KServe's explain route): ``{"rows": [{...}],
        "units": ..., ...}``. Computed only when asked; a kind without explanations says so (a named 400)."""
        raise DataError("explain", f"a {self.KIND} model does not explain its answers", "not_supported")

    @classmethod
    def live_metrics(cls, outputs: Mapping[str, pd.Series], label: np.ndarray, table: pd.DataFrame) -> dict[str, float]:
        """This kind's registered metrics on served answers (``outputs``, by output name) with the outcomes fed back
        (``label``); ``table`` holds the joined log rows (request ids, row numbers). The live figure sits beside the
        registered ``test_<metric>`` of the version."""
        raise NotImplementedError

    def verify(self, model_input: Any) -> None:
        """Raise ``ValueError`` when the path that serves this model does not answer what the fitted model does
        on ``model_input`` (checked at registration; kinds that compile a faster serving path override it)."""

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """MLflow's entry point: raw inputs in (a DataFrame of columns, or an array of windows for a tensor
        schema; MLflow validates either against the signature, not the annotation), one column per output."""
        rows = cast(BatchT, self.inputs.from_input(model_input))
        values = self.predict_rows(rows)
        return pd.DataFrame({o.name: list(values[o.name]) if o.shape else values[o.name] for o in self.OUTPUTS})

    # ------------------------------------------------------------ description
    @property
    def outputs(self) -> tuple[Output, ...]:
        return self.OUTPUTS

    def details(self) -> dict[str, Any]:
        """Facts about this fitted model worth keeping in the registry (thresholds, labels...)."""
        return {}

    def metadata(self) -> dict[str, Any]:
        """What MLflow keeps in the model's ``MLmodel`` file: the whole contract, readable without Python."""
        return {
            "shopfloor": {
                "contract": CONTRACT_VERSION,
                "kind": self.KIND,
                "inputs": self.inputs.to_dict(),
                "outputs": [
                    {"name": o.name, "datatype": o.datatype, "shape": list(o.shape), "description": o.description}
                    for o in self.OUTPUTS
                ],
                **self.details(),
            }
        }

    def signature(self):
        """The MLflow signature: the raw input columns with their types, and the named outputs."""
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, DataType, Schema
        from mlflow.types.schema import Array

        # a value per row that is a vector (a forecast curve) is an array column: MLflow cannot mix tensors
        # and columns in one schema, and ``predict`` answers one DataFrame column per output
        outputs = [
            ColSpec(MLFLOW_OUTPUT_TYPES[o.datatype], o.name) if not o.shape else ColSpec(Array(DataType.double), o.name)
            for o in self.OUTPUTS
        ]
        return ModelSignature(inputs=self.inputs.mlflow_schema(), outputs=Schema(outputs))

    def v2_outputs(self) -> list[dict[str, Any]]:
        return [{"name": o.name, "datatype": o.datatype, "shape": [-1, *o.shape]} for o in self.OUTPUTS]
