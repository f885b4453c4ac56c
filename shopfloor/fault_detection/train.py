"""Train the classifiers on original or augmented rows, and evaluate them at their decision threshold.

Training happens in the preprocessor's [-1, 1] space (where synthetic rows live); the returned
estimator chains the fitted preprocessor and the classifier, so it takes the user's raw columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shopfloor.constants import CLASSIFIERS
from shopfloor.data import ingest as ing
from shopfloor.data.ingest import xy
from shopfloor.fault_detection.metrics import classification_report
from shopfloor.fault_detection.pyfunc import FaultClassifier


def fit_classifier(train_scaled: pd.DataFrame, kind: str = "logreg", seed: int = 0, class_weight: str | None = None):
    """A classifier on scaled rows: ``logreg`` (Dahdal et al.'s interpretable choice), ``hgb``
    (scikit-learn's histogram gradient boosting, for threshold rules such as AI4I's failure modes) or
    ``resnet`` (``shopfloor.retraining``, which retraining adapts by EnKF)."""
    x, y = xy(train_scaled)
    if kind == "logreg":
        return LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=seed).fit(x, y)
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # Early stopping on a held-out tenth keeps a fit to a second or two even on augmented tables.
        return HistGradientBoostingClassifier(
            class_weight=class_weight,
            max_iter=300,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=15,
            random_state=seed,
        ).fit(x, y)
    if kind != "resnet":
        raise ValueError(f"classifier must be one of {list(CLASSIFIERS)}, got {kind!r}")
    from shopfloor.fault_detection.estimators import ResNetClassifier

    return ResNetClassifier(class_weight=class_weight, seed=seed).fit(x, y)


def smote_candidates(train_scaled: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` new minority rows interpolated by SMOTE (imbalanced-learn) between the scaled training faults,
    the classic reference of oversampling; no label column."""
    from imblearn.over_sampling import SMOTE

    x, y = xy(train_scaled)
    if n <= 0:
        return x.head(0)
    k = max(1, min(5, int(y.sum()) - 1))
    xs, _ = SMOTE(sampling_strategy={1: int(y.sum()) + n}, k_neighbors=k, random_state=seed).fit_resample(x, y)
    return xs.iloc[len(x) :].reset_index(drop=True)


def full_model(preprocessor, classifier) -> Pipeline:
    """One estimator from raw columns to fault probabilities: the preprocessor kept with the model."""
    return Pipeline([("preprocess", preprocessor), ("classifier", classifier)])


def evaluate(model, frame: pd.DataFrame, threshold: float = 0.5) -> dict[str, float]:
    """Metrics of a raw-column model on a raw split, deciding "faulty" at ``threshold``."""
    x, y = xy(frame)
    proba = np.asarray(model.predict_proba(x))[:, 1]
    return classification_report(y, (proba >= threshold).astype(int))


def reference_classifier(
    table: pd.DataFrame,
    label: str,
    seed: int = 0,
    class_weight: str | None = None,
    categorical: list[str] | None = None,
) -> tuple[FaultClassifier, ing.Splits]:
    """A logistic regression on the table's training split, in the model contract, without synthesis:
    the quick model that serving tests and benchmarks register."""
    data = ing.prepare(table, label, categorical=categorical)
    splits = ing.split(data, seed=seed)
    pre = ing.fit_preprocessor(splits.train, data.categorical)
    estimator = full_model(pre, fit_classifier(ing.transform(pre, splits.train), seed=seed, class_weight=class_weight))
    schema = ing.schema_of(pre, splits.train, data.boolean)
    return FaultClassifier(estimator, schema, labels=(data.negative_label, data.positive_label)), splits


def register_reference(table: pd.DataFrame, model_name: str, experiment: str, test_f2: float, seed: int = 0):
    """``reference_classifier`` on ``table`` (label ``faulty``), registered under ``model_name`` with ``test_f2`` as
    its score, as the rollout benchmark needs one: (registration, model, splits)."""
    from shopfloor.registry import register_model

    model, splits = reference_classifier(table, "faulty", seed)
    registration = register_model(
        model,
        splits.train.drop(columns=[ing.LABEL]).head(5),
        model_name=model_name,
        experiment=experiment,
        metrics={"test_f2": test_f2},
        params={},
        score_metric="test_f2",
    )
    return registration, model, splits
