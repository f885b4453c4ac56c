"""scikit-learn estimators around the ``ResNet``: a regressor (Rom et al.'s cutting forces) and a binary
classifier (the gearbox faults), each with ``retrain`` for warm-started adaptation to new data.

``fit`` trains from random weights by backpropagation. ``retrain`` starts from the fitted weights and
keeps the input and output scaling of the first fit, so the network stays the same function of the
same units and only its weights move: by the EnKF (default) or by backpropagation. Both estimators
pickle (MLflow's sklearn flavor stores them, ``shopfloor`` travels along as code).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from shopfloor.fault_detection.resnet import ResNet
from shopfloor.fault_detection.trainers import BackpropTrainer, EnKFTrainer, TrainResult

METHODS = ("enkf", "backprop")


class _ResNetEstimator(BaseEstimator):
    """Input validation and standardisation, the network and the two trainers shared by both estimators.

    Inputs are checked as scikit-learn's own estimators check them (``validate_data``: finite, 2-D,
    dense, the fitted number of features), so they pass ``sklearn.utils.estimator_checks``.
    """

    def _rows(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "net_")
        return validate_data(self, X, reset=False, dtype=np.float64)

    def _scale(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)

    def _fit_scaler(self, X: np.ndarray) -> None:
        self.x_mean_ = X.mean(axis=0)
        self.x_scale_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)

    def _enkf(self, **overrides: Any) -> EnKFTrainer:
        return EnKFTrainer(**{"seed": self.seed, **overrides})

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("retrain needs a fitted estimator (call fit first)")

    def _new_rows(self, X: Any, y: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) for ``retrain``: checked like ``fit``'s, with the fitted number of features."""
        self._check_fitted()
        return validate_data(self, X, y, reset=False, dtype=np.float64, **kwargs)

    def _retrain(
        self, X: torch.Tensor, Y: torch.Tensor, method: str, error_fn, backprop: BackpropTrainer, enkf: dict[str, Any]
    ) -> TrainResult:
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        trainer = self._enkf(**enkf) if method == "enkf" else backprop
        self.retrain_result_ = trainer.fit(self.net_, X, Y, error_fn)
        return self.retrain_result_


class ResNetRegressor(RegressorMixin, _ResNetEstimator):
    """Regression ResNet; its error is Eq. 17 on relative residuals (y - y_hat) / y, as a fraction."""

    def __init__(
        self,
        width: int = 8,
        layers: int = 11,
        lr: float = 0.01,
        tol: float = 0.03,
        max_epochs: int = 20000,
        seed: int = 0,
    ):
        self.width, self.layers, self.lr, self.tol = width, layers, lr, tol
        self.max_epochs, self.seed = max_epochs, seed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y: np.ndarray) -> tuple[torch.Tensor, Any]:
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        Y = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        mean, scale = (
            torch.as_tensor(self.y_mean_, dtype=torch.float32),
            torch.as_tensor(self.y_scale_, dtype=torch.float32),
        )
        truth = torch.as_tensor(y, dtype=torch.float32)

        def relative_rms(pred: torch.Tensor) -> float:
            rel = (truth - (pred.detach() * scale + mean)) / truth
            return float(torch.sqrt((rel**2).sum(0) / (2 * len(truth))).mean())

        return Y, relative_rms

    def fit(self, X: Any, y: Any) -> ResNetRegressor:
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        y = y.reshape(len(y), -1)
        self._fit_scaler(X)
        self.y_mean_, self.y_scale_ = y.mean(axis=0), np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
        self.n_outputs_ = y.shape[1]
        self.net_ = ResNet(X.shape[1], y.shape[1], self.width, self.layers, seed=self.seed)
        Y, error = self._targets(y)
        self.fit_result_ = BackpropTrainer(lr=self.lr, tol=self.tol, max_epochs=self.max_epochs).fit(
            self.net_, self._scale(X), Y, error
        )
        return self

    def retrain(self, X: Any, y: Any, method: str = "enkf", **enkf: Any) -> TrainResult:
        """Adapt the fitted network to new (X, y); ``enkf`` overrides ``EnKFTrainer`` fields."""
        X, y = self._new_rows(X, y, y_numeric=True, multi_output=True)
        Y, error = self._targets(y)
        backprop = BackpropTrainer(lr=self.lr, tol=self.tol, max_epochs=self.max_epochs)
        return self._retrain(self._scale(X), Y, method, error, backprop, {"tol": self.tol, **enkf})

    def predict(self, X: Any) -> np.ndarray:
        X = self._rows(X)
        with torch.no_grad():
            out = self.net_(self._scale(X)).numpy().astype(np.float64) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self.n_outputs_ == 1 else out

    def relative_rms(self, X: Any, y: Any) -> float:
        """Eq. 17 on relative residuals of the predictions for (X, y)."""
        y = np.asarray(y, dtype=np.float64)
        return self._targets(y)[1](
            torch.as_tensor((self.predict(X).reshape(len(y), -1) - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        )


class ResNetClassifier(ClassifierMixin, _ResNetEstimator):
    """Binary classifier: one logit out of the ResNet. ``class_weight="balanced"`` (or a ``{class: weight}``
    dict) weighs the positive
    class by the class ratio in training, and EnKF retraining draws balanced mini-batches."""

    def __init__(
        self,
        width: int = 32,
        layers: int = 4,
        lr: float = 0.01,
        max_epochs: int = 300,
        class_weight: str | None = "balanced",
        enkf_iterations: int = 300,
        enkf_batch: int = 64,
        seed: int = 0,
    ):
        self.width, self.layers, self.lr, self.max_epochs = width, layers, lr, max_epochs
        self.class_weight, self.enkf_iterations, self.enkf_batch, self.seed = (
            class_weight,
            enkf_iterations,
            enkf_batch,
            seed,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _targets(self, y: Any) -> tuple[torch.Tensor, Any]:
        y = np.asarray(y)
        unknown = set(np.unique(y)) - set(self.classes_)
        if unknown:
            raise ValueError(f"labels {sorted(unknown)} were not seen in fit (classes {list(self.classes_)})")
        Y = torch.as_tensor((y == self.classes_[1]).astype(np.float32)).reshape(-1, 1)

        def error(logits: torch.Tensor) -> float:  # Eq. 17 on the fault probability
            return float(torch.sqrt(((Y - torch.sigmoid(logits.detach())) ** 2).sum() / (2 * len(Y))))

        return Y, error

    def _backprop(self, Y: torch.Tensor) -> BackpropTrainer:
        positives = float(Y.sum())
        if self.class_weight == "balanced":
            weight = (len(Y) - positives) / max(positives, 1.0)
        elif isinstance(self.class_weight, dict):  # {class: weight}, as scikit-learn's classifiers take it
            weight = self.class_weight.get(self.classes_[1], 1.0) / max(
                self.class_weight.get(self.classes_[0], 1.0), 1e-12
            )
        else:
            weight = 1.0
        return BackpropTrainer(lr=self.lr, tol=0.0, max_epochs=self.max_epochs, loss="bce", pos_weight=weight)

    def fit(self, X: Any, y: Any) -> ResNetClassifier:
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "binary":
            raise ValueError(
                f"Only binary classification is supported: y is {kind} ({np.unique(y).size} class"
                f"{'es' if np.unique(y).size != 1 else ''})"
            )
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"ResNetClassifier needs both classes to train; y has 1 class: {self.classes_[0]!r}")
        self._fit_scaler(X)
        self.net_ = ResNet(X.shape[1], 1, self.width, self.layers, seed=self.seed)
        Y, error = self._targets(y)
        self.fit_result_ = self._backprop(Y).fit(self.net_, self._scale(X), Y, error)
        return self

    def retrain(self, X: Any, y: Any, method: str = "enkf", **enkf: Any) -> TrainResult:
        """Adapt the fitted network to new (X, y); ``enkf`` overrides ``EnKFTrainer`` fields."""
        X, y = self._new_rows(X, y)
        Y, error = self._targets(y)
        # Measured on the drifted gearbox: moving every weight (thousands, 100 particles) helps less than
        # moving the last block and the output map with a narrower ensemble.
        settings = {
            "tol": 0.0,
            "max_iter": self.enkf_iterations,
            "batch_size": self.enkf_batch,
            "link": "sigmoid",
            "balanced": self.class_weight == "balanced" and 0 < float(Y.sum()) < len(Y),
            "part": "head",
            "sigma_c": 1e-3,
            "check_every": 10,
            **enkf,
        }
        return self._retrain(self._scale(X), Y, method, error, self._backprop(Y), settings)

    def predict_proba(self, X: Any) -> np.ndarray:
        X = self._rows(X)
        with torch.no_grad():
            p = torch.sigmoid(self.net_(self._scale(X))).numpy().astype(np.float64)[:, 0]
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]
