"""``PredictionLog``: every answered row, written to Parquet by a background thread.

The request path only copies the answered rows into column buffers (``Pending``, one per model version and
day), bounded in rows: no encoding, no disk. A writer thread wakes every ``flush_seconds`` (default 1 s), turns what
queued into one table per model, version and day (vectorised: a tabular batch is already a float matrix)
and writes it as a new file. So an answer is on disk at most about one flush interval after it was sent, a
SIGKILL loses at most that interval, and a slow or full disk never holds a request up: when the queue is
full (``max_rows``) new rows are dropped and counted, and a failed write is logged once and its rows counted
as lost, while the server keeps answering. Counts are in ``stats`` for the server's ``/metrics``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from shopfloor.monitoring.store import INPUT, OUTPUT, monitoring_root, predictions_dir, write_part

log = logging.getLogger(__name__)
DEFAULT_FLUSH_SECONDS = 1.0
DEFAULT_MAX_ROWS = 100_000  # rows waiting for the writer; 53 MB of inputs for rows of 66 numbers


@dataclass(slots=True)
class Entry:
    """One answered request, as the server had it (``time``: seconds since the epoch, UTC)."""

    time: float
    model: str
    version: str
    request_id: str
    batch: Any  # a checked batch of the contract: Rows, Windows or Sequences
    outputs: dict[str, np.ndarray]
    keys: Sequence[Any] | None = None
    role: str = "answered"  # or "canary" (answered by a challenger), "shadow" (scored by one, never returned)


@dataclass
class LogStats:
    queued: int = 0  # rows waiting now
    written: int = 0
    dropped: int = 0  # refused because the queue was full
    failed: int = 0  # lost in a write that failed (a full disk)
    files: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def _typed(values: np.ndarray) -> pa.Array:
    """A numpy column as an Arrow array of its own type (``pa.array`` infers the type by scanning: 800x slower)."""
    return pa.array(values, type=pa.from_numpy_dtype(values.dtype))


def nested_lists(items: list[np.ndarray]) -> pa.Array:
    """Arrays of one or two dimensions (sequences; windows of signals, images) as an Arrow list (of lists) of
    float64, built from their values and lengths: converting each image to Python lists first cost about a tenth
    of a served image request, on the writer thread."""

    def offsets(lengths: list[int]) -> pa.Array:
        return pa.array(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int32))

    flat = pa.array(np.concatenate([a.ravel() for a in items]) if items else np.zeros(0), type=pa.float64())
    if items and items[0].ndim == 2:
        inner = pa.ListArray.from_arrays(offsets([a.shape[1] for a in items for _ in range(a.shape[0])]), flat)
        return pa.ListArray.from_arrays(offsets([a.shape[0] for a in items]), inner)
    return pa.ListArray.from_arrays(offsets([len(a) for a in items]), flat)


class Growing:
    """Rows appended to one preallocated array, its capacity doubled when full."""

    def __init__(self, sample: np.ndarray, capacity: int = 1024) -> None:
        self.data = np.empty((max(capacity, len(sample)), *sample.shape[1:]), dtype=sample.dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            grown = np.empty((max(end, 2 * len(self.data)), *self.data.shape[1:]), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end

    def values(self) -> np.ndarray:
        return self.data[: self.size]


class Pending:
    """The answered rows of one model version waiting for the writer, column by column.

    Each answer is copied in (a one-row tabular answer: 66 floats, well under a microsecond), so nothing of
    the request outlives it: keeping ten thousand requests' own arrays and objects alive for a second cost
    about a tenth of the one-row throughput (allocator and collector work), copying costs a fraction of that.
    """

    def __init__(self, entry: Entry) -> None:
        batch = entry.batch
        self.tabular = batch.schema if hasattr(batch, "numeric") else None
        self.outputs = {name: Growing(np.asarray(values)) for name, values in entry.outputs.items()}
        if self.tabular is not None:
            self.inputs = [Growing(batch.numeric)] + ([Growing(batch.categorical)] if self.tabular.categorical else [])
        else:
            self.inputs = []
        self.sequences: list[np.ndarray] = []  # windows and sequences, kept as they came
        self.times: list[float] = []
        self.ids: list[str] = []
        self.sizes: list[int] = []
        self.keys: list[Any] = []
        self.rows = 0

    def append(self, entry: Entry, n: int) -> None:
        batch = entry.batch
        if self.tabular is not None:
            self.inputs[0].append(batch.numeric)
            if len(self.inputs) > 1:
                self.inputs[1].append(batch.categorical)
        else:
            self.sequences.extend(batch.values)
        for name, column in self.outputs.items():
            column.append(entry.outputs[name])
        self.times.append(entry.time)
        self.ids.append(entry.request_id)
        self.sizes.append(n)
        if entry.keys is not None:
            self.keys.extend(None if k is None else str(k) for k in entry.keys)
        elif self.keys:
            self.keys.extend([None] * n)
        self.rows += n
        if entry.keys is not None and len(self.keys) < self.rows:  # keys began mid-way: earlier rows had none
            self.keys[:0] = [None] * (self.rows - len(self.keys))

    def _input_columns(self) -> dict[str, pa.Array]:
        if self.tabular is None:
            return {"input": nested_lists([np.asarray(v, dtype=np.float64) for v in self.sequences])}
        numeric = np.asfortranarray(self.inputs[0].values())
        categorical: Any = self.inputs[1].values() if len(self.inputs) > 1 else None
        columns: dict[str, pa.Array] = {}
        n = c = 0
        for column in self.tabular.columns:  # typed columns, as the model's training table had them
            if column.categorical:
                columns[INPUT + column.name] = pa.array(categorical[:, c], type=pa.string())
                c += 1
            else:
                numbers = numeric[:, n]
                columns[INPUT + column.name] = _typed(numbers.astype(bool) if column.type == "boolean" else numbers)
                n += 1
        return columns

    def table(self) -> pa.Table:
        """The log rows (one per answered row)."""
        sizes = np.array(self.sizes)
        ends = np.cumsum(sizes)
        micros = np.repeat((np.array(self.times) * 1e6).astype(np.int64), sizes)
        ids = self.ids if len(self.ids) == self.rows else np.repeat(self.ids, sizes).tolist()
        outputs = {}
        for name, column in self.outputs.items():
            values = column.values()
            outputs[OUTPUT + name] = (
                pa.array(values.tolist(), type=pa.list_(pa.float64())) if values.ndim > 1 else _typed(values)
            )
        return pa.table(
            {
                "request_id": pa.array(ids, pa.string()),
                "row": pa.array((np.arange(self.rows) - np.repeat(ends - sizes, sizes)).astype(np.int32)),
                "time": pa.array(micros.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")),
                "key": pa.array(self.keys or [None] * self.rows, type=pa.string()),
                **self._input_columns(),
                **outputs,
            }
        )


class PredictionLog:
    """A bounded queue of answered requests and the thread that writes them (see the module docstring)."""

    def __init__(
        self, root: Path | None = None, flush_seconds: float = DEFAULT_FLUSH_SECONDS, max_rows: int = DEFAULT_MAX_ROWS
    ) -> None:
        if flush_seconds <= 0:
            raise ValueError(f"flush_seconds must be positive, got {flush_seconds}")
        self.root = root or monitoring_root()
        self.flush_seconds, self.max_rows = flush_seconds, max_rows
        self.stats = LogStats()
        self._pending: dict[tuple[str, str, str, type, int], Pending] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def add(self, entry: Entry) -> bool:
        """Queue one answered request; False (and counted) when the queue is full. Never blocks on disk."""
        n = len(entry.batch)
        group = (entry.model, entry.version, entry.role, type(entry.batch), int(entry.time // 86400))  # and the day
        with self._lock:
            if self.stats.queued + n > self.max_rows:
                self.stats.dropped += n
                return False
            pending = self._pending.get(group)
            if pending is None:
                pending = self._pending[group] = Pending(entry)
            pending.append(entry, n)
            self.stats.queued += n
        return True

    def flush(self) -> int:
        """Write everything queued now; the number of rows written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        written = 0
        for (model, version, role, _, days), waiting in pending.items():
            day = datetime.fromtimestamp(days * 86400, UTC).date()
            rows = waiting.rows
            try:
                table = waiting.table().append_column("role", pa.array([role] * waiting.rows, pa.string()))
                # dictionary pages only for strings: on float columns they cost 3x the write for nothing
                strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
                write_part(table, predictions_dir(self.root, model, version, day), use_dictionary=strings)
            except Exception as exc:  # a full or read-only disk: count, say so once, keep serving
                self._lost(rows, exc)
            else:
                written += rows
                with self._lock:
                    self.stats.written += rows
                    self.stats.files += 1
            with self._lock:
                self.stats.queued -= rows
        return written

    def _lost(self, rows: int, exc: Exception) -> None:
        with self._lock:
            self.stats.failed += rows
            reason = type(exc).__name__
            self.stats.errors[reason] = self.stats.errors.get(reason, 0) + 1
        if not self._warned:
            self._warned = True
            log.error(
                "the prediction log could not write under %s (%s); answers go on, lost rows are counted "
                'in shopfloor_prediction_log_rows_total{outcome="failed"}',
                self.root,
                exc,
            )

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # never let the writer die: the next interval tries again
                log.exception("prediction log flush failed")

    def close(self) -> None:
        """Stop the writer and write what is queued (on a clean shutdown nothing is lost)."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=10)
            self.flush()


def now() -> float:
    return time.time()
