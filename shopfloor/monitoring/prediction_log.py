"""``PredictionLog``: every answered row, written to Parquet by a background thread.

The request path only appends a reference to what it already has (the checked batch and the outputs) to a
bounded queue: no encoding, no disk. A writer thread wakes every ``flush_seconds`` (default 1 s), turns what
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
DEFAULT_MAX_ROWS = 100_000  # rows waiting for the writer; about 100 MB for wide tabular rows


@dataclass
class Entry:
    """One answered request, as the server had it."""

    time: datetime
    model: str
    version: str
    request_id: str
    batch: Any  # a checked batch of the contract: Rows, Windows or Sequences
    outputs: dict[str, np.ndarray]
    keys: Sequence[Any] | None = None


@dataclass
class LogStats:
    queued: int = 0  # rows waiting now
    written: int = 0
    dropped: int = 0  # refused because the queue was full
    failed: int = 0  # lost in a write that failed (a full disk)
    files: int = 0
    errors: dict[str, int] = field(default_factory=dict)


def _input_columns(entries: list[Entry]) -> dict[str, pa.Array]:
    first = entries[0].batch
    if hasattr(first, "numeric"):  # tabular Rows: typed columns, as the model's training table had them
        numeric = np.concatenate([e.batch.numeric for e in entries])
        categorical = np.concatenate([e.batch.categorical for e in entries])
        columns, n, c = {}, 0, 0
        for column in first.schema.columns:
            if column.categorical:
                columns[INPUT + column.name] = pa.array(categorical[:, c], type=pa.string())
                c += 1
            else:
                values = numeric[:, n]
                columns[INPUT + column.name] = pa.array(values.astype(bool) if column.type == "boolean" else values)
                n += 1
        return columns
    values = [np.asarray(v).tolist() for e in entries for v in e.batch.values]
    return {"input": pa.array(values)}


def _output_columns(entries: list[Entry]) -> dict[str, pa.Array]:
    columns = {}
    for name in entries[0].outputs:
        values = np.concatenate([np.asarray(e.outputs[name]) for e in entries])
        columns[OUTPUT + name] = pa.array(values.tolist() if values.ndim > 1 else values)
    return columns


def to_table(entries: list[Entry]) -> pa.Table:
    """The log rows of entries of one model version (one row per answered row)."""
    sizes = [len(e.batch) for e in entries]
    micros = np.array([round(e.time.timestamp() * 1e6) for e in entries], dtype=np.int64)
    times = np.repeat(micros, sizes).astype("datetime64[us]")  # UTC, as the column's type says
    keys = [None if e.keys is None else e.keys[i] for e, n in zip(entries, sizes, strict=True) for i in range(n)]
    columns = {"request_id": pa.array(np.repeat([e.request_id for e in entries], sizes).astype(str)),
               "row": pa.array(np.concatenate([np.arange(n, dtype=np.int32) for n in sizes])),
               "time": pa.array(times, type=pa.timestamp("us", tz="UTC")),
               "key": pa.array([None if k is None else str(k) for k in keys], type=pa.string()),
               **_input_columns(entries), **_output_columns(entries)}
    return pa.table(columns)


class PredictionLog:
    """A bounded queue of answered requests and the thread that writes them (see the module docstring)."""

    def __init__(self, root: Path | None = None, flush_seconds: float = DEFAULT_FLUSH_SECONDS,
                 max_rows: int = DEFAULT_MAX_ROWS) -> None:
        if flush_seconds <= 0:
            raise ValueError(f"flush_seconds must be positive, got {flush_seconds}")
        self.root = root or monitoring_root()
        self.flush_seconds, self.max_rows = flush_seconds, max_rows
        self.stats = LogStats()
        self._pending: list[Entry] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._warned = False
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def add(self, entry: Entry) -> bool:
        """Queue one answered request; False (and counted) when the queue is full. Never blocks on disk."""
        n = len(entry.batch)
        with self._lock:
            if self.stats.queued + n > self.max_rows:
                self.stats.dropped += n
                return False
            self._pending.append(entry)
            self.stats.queued += n
        return True

    def flush(self) -> int:
        """Write everything queued now; the number of rows written."""
        with self._lock:
            pending, self._pending = self._pending, []
        groups: dict[tuple[str, str, Any, type], list[Entry]] = {}
        for entry in pending:
            groups.setdefault((entry.model, entry.version, entry.time.date(), type(entry.batch)), []).append(entry)
        written = 0
        for (model, version, day, _), entries in groups.items():
            rows = sum(len(e.batch) for e in entries)
            try:
                write_part(to_table(entries), predictions_dir(self.root, model, version, day))
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
            log.error("the prediction log could not write under %s (%s); answers go on, lost rows are counted "
                      "in shopfloor_prediction_log_rows_total{outcome=\"failed\"}", self.root, exc)

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


def now() -> datetime:
    return datetime.now(UTC)
