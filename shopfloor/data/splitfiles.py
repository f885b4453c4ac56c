"""The split files ingest steps write: Parquet with how the rows were split in the file's own metadata (whether
they are in time order, and the split in words), so every later step knows whether its folds must chain forward
in time, and the run's report how the rows were split, without a parameter of their own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ORDER_KEY = b"shopfloor.order"  # "time" when the rows (or units) are in time order
SPLIT_KEY = b"shopfloor.split"  # how the table was split, in words


def write_split(frame: pd.DataFrame, path: str | Path, order: str = "random", split: str = "") -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    extra = {ORDER_KEY: order.encode(), SPLIT_KEY: split.encode()}
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **extra}), path)


def _metadata(path: str | Path) -> dict[bytes, bytes]:
    import pyarrow.parquet as pq

    return pq.read_schema(path).metadata or {}


def in_time_order(path: str | Path) -> bool:
    """Whether ingest wrote the split file at ``path`` in time order."""
    return _metadata(path).get(ORDER_KEY) == b"time"


def split_words(path: str | Path) -> str:
    """How ingest split the table, in words ("" for files written before)."""
    return _metadata(path).get(SPLIT_KEY, b"").decode()
