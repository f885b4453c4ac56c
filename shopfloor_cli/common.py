"""What the command groups share: option helpers, the model-name rule and result files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from shopfloor.constants import DEFAULT_MODELS, check_model_name
from shopfloor.errors import DataError


def csv_list(text: str | None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def write_table(table, path: str) -> Path:
    """A table as CSV or Parquet (by the file's suffix)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in {".parquet", ".pq"}:
        table.to_parquet(out, index=False)
    else:
        table.to_csv(out, index=False)
    return out


def add_model_name(parser: argparse.ArgumentParser, default: str | None, help_text: str) -> None:
    """``--model-name`` (``--model`` too, as earlier versions spelt it)."""
    parser.add_argument("--model-name", dest="model_name", default=default, help=help_text)


def model_name_for(args: argparse.Namespace, pipeline: str) -> str:
    """The registered-model name of a run: ``--model-name`` if given; the pipeline's default name on the
    embedded simulated data only. A run on the user's own ``--data`` must name its model, so that two
    production lines never overwrite each other's champion."""
    if args.model_name:
        return check_model_name(args.model_name)
    if getattr(args, "data", None):
        stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(args.data).stem).strip("-.") or "line"
        raise DataError(
            "model-name",
            f"name the model of your own data, e.g. --model-name {stem}-"
            f"{pipeline.split('-')[0]} (the default {DEFAULT_MODELS[pipeline]!r} belongs "
            "to the simulated data)",
        )
    return DEFAULT_MODELS[pipeline]


def checked_name(args: argparse.Namespace) -> str:
    """``--model-name`` of serve, deploy, loadtest and schedule, checked before any work."""
    return check_model_name(args.model_name)


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str))
