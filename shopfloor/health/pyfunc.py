"""The health-index model as an MLflow ``PythonModel``: feature rows in, one HI per row out."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from shopfloor.health.model import HealthIndexModel


class HealthIndexPyfunc(mlflow.pyfunc.PythonModel):
    """Scaler, (2)DS encoder and APAIC fusion in one registered model; ``features`` fixes the column order."""

    def __init__(self, model: HealthIndexModel, features: list[str]) -> None:
        self.model = model
        self.features = list(features)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.transform(pd.DataFrame(model_input)[self.features].to_numpy(float))
