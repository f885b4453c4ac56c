"""What the registry holds for a model: its champion's score, version and contract (read from its ``MLmodel``
file only), a registered version loaded, and the development rows logged with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from shopfloor.constants import CHAMPION
from shopfloor.contract import InputSchema, ShopfloorModel, schema_from_dict
from shopfloor.errors import DataError, RegistryError
from shopfloor.kinds import canonical
from shopfloor.platform.refusal import refused

#: The development rows logged with each model (raw columns + label): what drift is measured against and what
#: retraining adds new rows to.
REFERENCE = "reference/train.parquet"


def champion_score(model_name: str, metric: str, alias: str = CHAMPION) -> float | None:
    """The ``metric`` logged by the run behind ``model_name@alias``, or None without a champion."""
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    if not version.run_id:
        return None
    value = client.get_run(version.run_id).data.metrics.get(metric)
    return None if value is None else float(value)


def champion_version(model_name: str, alias: str = CHAMPION):
    """The ``ModelVersion`` behind ``model_name@alias``; ``RegistryError`` when there is none."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        why = refused(exc)
        if why:
            raise RegistryError(f"model {model_name!r}: {why} (reading {model_name}@{alias})") from None
        raise RegistryError(f"model {model_name!r} has no version with alias {alias!r}") from exc


@dataclass(frozen=True)
class Contract:
    """A registered version's contract, read from its ``MLmodel`` file alone (no model download)."""

    version: Any  # mlflow ModelVersion
    kind: str
    inputs: InputSchema
    details: dict[str, Any]


def champion_contract(model_name: str, alias: str = CHAMPION) -> Contract:
    """The contract of ``model_name@alias``; ``RegistryError`` without one, ``DataError`` for a model that
    was not registered by Shopfloor's contract."""
    version = champion_version(model_name, alias)
    uri = f"models:/{model_name}/{version.version}"
    info = mlflow.models.get_model_info(uri)
    meta = (info.metadata or {}).get("shopfloor")
    if not meta or "inputs" not in meta:
        raise DataError(
            "model",
            f"{uri} was not registered with Shopfloor's model contract (no inputs in its "
            "metadata); register it again with this version of Shopfloor",
        )
    details = {k: v for k, v in meta.items() if k not in ("contract", "kind", "inputs", "outputs")}
    return Contract(version, canonical(meta.get("kind", "model")), schema_from_dict(meta["inputs"]), details)


def load_version(model_name: str, version: str | int) -> ShopfloorModel:
    """The ``ShopfloorModel`` registered as ``model_name`` version ``version``, warmed (``load_with_example``)."""
    return load_with_example(f"models:/{model_name}/{version}")[0]


def load_with_example(uri: str) -> tuple[ShopfloorModel, Any]:
    """The ``ShopfloorModel`` at ``uri`` and the input example registered with it (None for a model registered
    without one). The model has answered its example once, so what it compiles on first use (numba's tree kernel:
    about a second) is compiled before a served request arrives, at a hot swap too."""
    loaded = mlflow.pyfunc.load_model(uri)
    model = loaded.unwrap_python_model()
    if not isinstance(model, ShopfloorModel):
        raise DataError("model", f"{uri} is a {type(model).__name__}, not a Shopfloor model; register it again")
    example = loaded.input_example
    if example is not None:
        model.predict_rows(model.inputs.from_input(example))
    return model, example


def reference_rows(run_id: str) -> pd.DataFrame | None:
    """The training rows logged with a version's run (None for models registered without them)."""
    try:
        return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REFERENCE))
    except (MlflowException, OSError):
        return None
