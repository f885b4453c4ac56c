"""The health-index model in the model contract: feature rows in, one HI per row out."""

from __future__ import annotations

import numpy as np

from shopfloor.contract import Column, Output, Rows, ShopfloorModel, TabularSchema
from shopfloor.health.model import HealthIndexModel


class HealthIndexPyfunc(ShopfloorModel):
    """Scaler, (2)DS encoder and APAIC fusion in one registered model; ``features`` fixes the column order."""

    KIND = "health_index"
    OUTPUTS = (Output("health_index", "FP64", description="0 healthy ... 1 failed"),)

    def __init__(self, model: HealthIndexModel, features: list[str]) -> None:
        self.model = model
        self.inputs = TabularSchema(tuple(Column(f) for f in features))

    def predict_rows(self, rows: Rows) -> dict[str, np.ndarray]:
        return {"health_index": np.asarray(self.model.transform(rows.numeric), dtype=np.float64)}
