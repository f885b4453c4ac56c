"""A registered version moved to another MLflow registry: a champion trained on a laptop or a plant's own machine,
registered on the cluster's MLflow, so that the cluster's InferenceService serves it and its retraining starts from it.

The version is not copied file by file: its model is loaded and registered again in the target through the same
transaction as any run's (``register_model``), so the target checks it (its serving path answers what was fitted),
measures its scoring time, keeps its run's metrics, parameters, Shopfloor tags and files (the training rows the
server's drift check and retraining read, the comparison tables and figures), and decides @champion against the
target's own champion by the same score, all or nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from shopfloor.errors import DataError
from shopfloor.registry.champions import load_with_example
from shopfloor.registry.register import Registration, register_model
from shopfloor.registry.report import REPORT_FILE
from shopfloor.registry.tracking import use_tracking

COPIED_FROM = "shopfloor.copied_from"


@dataclass
class Source:
    """What the target needs of the source version, read while MLflow points at the source."""

    model: Any
    example: Any
    experiment: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    score_metric: str
    files: dict[str, Path]
    tables: dict[str, pd.DataFrame]
    origin: str


def _files(client: MlflowClient, run_id: str, into: Path, path: str = "") -> dict[str, Path]:
    """Every file the run logged (its report aside: the target writes its own), by artifact path, downloaded."""
    out: dict[str, Path] = {}
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            out |= _files(client, run_id, into, item.path)
        elif Path(item.path).name != REPORT_FILE:
            folder = into / Path(item.path).parent
            folder.mkdir(parents=True, exist_ok=True)
            out[item.path] = Path(client.download_artifacts(run_id, item.path, str(folder)))
    return out


def _table(path: Path) -> pd.DataFrame | None:
    """A table logged by ``mlflow.log_table`` (columns and data), or None for any other JSON file."""
    try:
        logged = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(logged, dict) and set(logged) >= {"columns", "data"}:
        return pd.DataFrame(logged["data"], columns=logged["columns"])
    return None


def read_source(model_name: str, alias: str, source_uri: str | None, scratch: Path) -> Source:
    """The version behind ``model_name@alias`` in the registry at ``source_uri``, its run's files in ``scratch``."""
    from mlflow.exceptions import MlflowException

    uri = use_tracking(source_uri)
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        raise DataError("--model-name", f"{model_name}@{alias}: no such version in {uri}") from None
    if not version.run_id:
        raise DataError("--model-name", f"{model_name} version {version.version} has no run to copy it from")
    run = client.get_run(version.run_id)
    score_metric = next((k for k in version.tags if k in run.data.metrics), None)
    if score_metric is None:
        raise DataError("--model-name", f"{model_name} version {version.version} has no score to compare by")
    model_uri = f"models:/{model_name}/{version.version}"
    model, example = load_with_example(model_uri)
    if example is None:
        raise DataError("--model-name", f"{model_uri} was registered without an input example to check it by")
    files_dir = scratch / "files"
    files, tables = {}, {}
    for name, local in _files(client, run.info.run_id, files_dir).items():
        table = _table(local) if name.endswith(".json") else None
        if table is not None:
            tables[name] = table
        else:
            files[name] = local
    experiment = client.get_experiment(run.info.experiment_id).name
    return Source(
        model=model,
        example=example,
        experiment=experiment,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        tags={k: v for k, v in run.data.tags.items() if k.startswith("shopfloor.")},
        score_metric=score_metric,
        files=files,
        tables=tables,
        origin=f"{model_name} version {version.version} (@{alias}) of {uri}, run {run.info.run_id}",
    )


def copy_version(
    model_name: str,
    target_uri: str,
    *,
    alias: str = "champion",
    source_uri: str | None = None,
    target_name: str | None = None,
    force_champion: bool = False,
) -> Registration:
    """Register ``model_name@alias`` of the source registry in the target registry as ``target_name`` (default: the
    same name). The target's promotion rule decides its alias unless ``force_champion``."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per file of the model otherwise
    with tempfile.TemporaryDirectory(prefix="shopfloor-copy-") as scratch:
        source = read_source(model_name, alias, source_uri, Path(scratch))
        use_tracking(target_uri)
        return register_model(
            source.model,
            source.example,
            model_name=target_name or model_name,
            experiment=source.experiment,
            metrics=source.metrics,
            params=source.params,
            score_metric=source.score_metric,
            artifacts=source.files or None,
            tables=source.tables,
            tags={**source.tags, COPIED_FROM: source.origin},
            promote=True if force_champion else None,
        )
