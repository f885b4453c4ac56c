"""The registered fault classifier: a fitted scikit-learn pipeline (raw columns -> fault probability) and
its decision threshold, in the model contract of ``shopfloor.contract``.

The pipeline holds the preprocessing (imputation, scaling, one-hot encoding of string columns), so a
client sends ``{"Type": "L", "Torque [Nm]": 40.1, ...}`` as the table had it. scikit-learn validates
its input in every step of every call (a few milliseconds for one row); for the linear model and for gradient
boosting the fitted pipeline is compiled into plain numpy at load time (``shopfloor.fault_detection.compiled``), checked
equal to the pipeline on random rows first, and used by both the pyfunc and the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shopfloor.contract import Output, Rows, ShopfloorModel, TabularSchema
from shopfloor.fault_detection.compiled import Scorer, linear_scorer, tree_scorer


class FaultClassifier(ShopfloorModel[TabularSchema, Rows]):
    """``class`` (1 = faulty) when the fault probability reaches ``threshold``, and the probability."""

    KIND = "fault-detection"
    ANSWER = "class"
    OUTPUTS = (
        Output("class", "INT64", description="1 when the unit is predicted faulty"),
        Output("fault_probability", "FP64", description="probability of the fault class"),
    )

    @classmethod
    def live_metrics(cls, outputs, label, table) -> dict[str, float]:
        """``f2``, ``precision``, ``recall`` of the answered class (the registered threshold); ``pr_auc`` (average
        precision) of the fault probability where both classes came back."""
        from sklearn.metrics import average_precision_score, fbeta_score, precision_score, recall_score

        answered, truth = outputs["class"].to_numpy(int), label.astype(int)
        metrics = {
            "f2": fbeta_score(truth, answered, beta=2, zero_division=0),
            "precision": precision_score(truth, answered, zero_division=0),
            "recall": recall_score(truth, answered, zero_division=0),
        }
        if len(np.unique(truth)) == 2 and "fault_probability" in outputs:
            metrics["pr_auc"] = average_precision_score(truth, outputs["fault_probability"].to_numpy(float))
        return {k: float(v) for k, v in metrics.items()}

    def __init__(
        self,
        estimator: Any,
        inputs: TabularSchema,
        threshold: float = 0.5,
        labels: tuple[str, str] = ("0", "1"),
        key_column: str | None = None,
    ) -> None:
        """``key_column``: the business key (a part id) requests may carry beside the features; passed
        through to the prediction log, never a feature."""
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        self.estimator = estimator
        self.inputs = inputs
        self.threshold = float(threshold)
        self.labels = tuple(labels)  # (healthy, faulty) as the user's label column names them
        self.key_column = key_column or None
        self._scorer: Scorer | None = None
        self._explainer: Any = None

    def details(self) -> dict[str, Any]:
        key = getattr(self, "key_column", None)  # models pickled before keys were named have none
        return {
            "threshold": self.threshold,
            "labels": {"0": self.labels[0], "1": self.labels[1]},
            **({"key_column": key} if key else {}),
        }

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_scorer"] = None  # compiled again where the model is loaded
        state["_explainer"] = None  # built where an explanation is first asked for
        return state

    def load_context(self, context) -> None:
        self.scorer()

    def scorer(self) -> Scorer:
        """The fault-probability function of this model (the compiled linear path where it applies)."""
        if self._scorer is None:
            fast = linear_scorer(self.estimator, self.inputs) or tree_scorer(self.estimator, self.inputs)
            self._scorer = fast if fast is not None else self._pipeline_proba
        return self._scorer

    def verify(self, model_input: Any, atol: float = 1e-9) -> None:
        """The compiled path (where there is one) against the fitted pipeline on ``model_input``'s rows."""
        scorer = self.scorer()
        if scorer == self._pipeline_proba:
            return
        rows = self.inputs.from_input(model_input)
        compiled, fitted = scorer(rows), self._pipeline_proba(rows)
        wrong = np.abs(compiled - fitted) > atol
        if wrong.any():
            raise ValueError(
                f"the compiled scoring path disagrees with the fitted pipeline on {int(wrong.sum())} of "
                f"{len(rows)} rows (largest difference {float(np.abs(compiled - fitted).max()):.3g}): "
                "not registered"
            )

    def _pipeline_proba(self, rows: Rows) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(rows.frame())[:, 1], dtype=np.float64)

    def predict_rows(self, rows: Rows) -> dict[str, np.ndarray]:
        proba = self.scorer()(rows)
        return {"class": (proba >= self.threshold).astype(np.int64), "fault_probability": proba}

    def stack(self, batches: Sequence[Rows]) -> Rows:
        """Each part is scored on its own, so requests that arrive together are scored as one batch."""
        return Rows.stacked(batches)

    def explain_rows(self, rows: Rows) -> dict[str, Any]:
        """Each raw column's SHAP value per row, in log-odds of the fault class; a row's values sum to its
        ``log_odds`` minus ``expected_log_odds``, the log-odds of the ``reference`` (``shopfloor.fault_detection.
        explain``)."""
        from shopfloor.fault_detection.explain import UNITS, Explainer

        if getattr(self, "_explainer", None) is None:  # models pickled before explanations have no slot
            self._explainer = Explainer(self.estimator, self.inputs)
        explainer = self._explainer
        values, log_odds = explainer(rows.frame())
        answer = self.predict_rows(rows)
        return {
            "units": UNITS,
            "expected_log_odds": explainer.expected,
            "reference": explainer.reference,
            "rows": [
                {
                    "class": int(answer["class"][i]),
                    "fault_probability": float(answer["fault_probability"][i]),
                    "log_odds": float(log_odds[i]),
                    "contributions": dict(zip(explainer.columns, values[i].tolist(), strict=True)),
                }
                for i in range(len(values))
            ],
        }
