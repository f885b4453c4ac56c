"""Production rows as training rows: what a served model was asked, with what really happened.

The logged inputs of every answer that has an outcome become a table of the model's own raw columns plus
the label column, as a user's file would hold them, so retraining takes them through the same checks,
split and scoring as a file. A classifier's outcomes are written as its registered class names, so the
minority class stays the fault class whatever the mix of the new rows.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from shopfloor.errors import DataError
from shopfloor.monitoring.outcomes import joined
from shopfloor.monitoring.store import INPUT, monitoring_root


def labelled_log(model: str, features: list[str], label: str, labels: dict[str, str] | None = None,
                 since: datetime | None = None, root: Path | None = None) -> pd.DataFrame:
    """The answered rows of ``model`` that have an outcome, as ``features`` + ``label``; ``DataError`` when
    there are none or the log lacks a feature (rows logged by a model with other columns)."""
    table = joined(model, since=since, root=root)
    if not table.empty and "role" in table.columns:
        table = table[table["role"] != "shadow"]  # a shadow answer repeats a request already on record
    if table.empty:
        raise DataError("data", f"no answers of {model} with an outcome in the prediction log under "
                                f"{root or monitoring_root()}: feed outcomes back first (shopfloor feedback)")
    missing = [f for f in features if INPUT + f not in table.columns]
    if missing:
        raise DataError(missing[0], f"the logged answers of {model} have no column {missing[0]!r} "
                                    f"(logged by a version with other inputs)")
    rows = table[[INPUT + f for f in features]].set_axis(features, axis=1)
    logged = table[[INPUT + f for f in features]].notna().all(axis=1)  # versions with fewer columns left out
    # a classifier's 0/1 outcomes as its own class names; any other outcome (a life left, a wear) as it came
    rows[label] = table["label"].astype(int).map({int(k): v for k, v in labels.items()}) if labels \
        else table["label"]
    return rows[logged].reset_index(drop=True)


def write_labelled_log(model: str, features: list[str], label: str, labels: dict[str, str] | None = None,
                       since: datetime | None = None, root: Path | None = None) -> Path:
    """``labelled_log`` written as Parquet under the monitoring folder (a file the retraining run reads)."""
    table = labelled_log(model, features, label, labels, since, root)
    out = (root or monitoring_root()) / "training" / f"{model}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    return out
