"""Train the classifiers on original or augmented rows, and evaluate them at their decision threshold.

Training happens in the preprocessor's [-1, 1] space (where synthetic rows live); the returned
estimator chains the fitted preprocessor and the classifier, so it takes the user's raw columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shopfloor.classify.metrics import classification_report
from shopfloor.classify.model import FaultClassifier
from shopfloor.constants import CLASSIFIERS
from shopfloor.data import ingest as ing
from shopfloor.data.ingest import LABEL, xy


def fit_classifier(train_scaled: pd.DataFrame, kind: str = "logreg", seed: int = 0,
                   class_weight: str | None = None):
    """A logistic regression or a ResNet classifier (``shopfloor.retrain``) on scaled rows."""
    x, y = xy(train_scaled)
    if kind == "logreg":
        return LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=seed).fit(x, y)
    if kind != "resnet":
        raise ValueError(f"classifier must be one of {list(CLASSIFIERS)}, got {kind!r}")
    from shopfloor.retrain.estimators import ResNetClassifier

    return ResNetClassifier(class_weight=class_weight, seed=seed).fit(x, y)


def augment(train_scaled: pd.DataFrame, synthetic_scaled: pd.DataFrame) -> pd.DataFrame:
    """Original training rows plus synthetic minority rows labelled 1."""
    synth = synthetic_scaled[train_scaled.drop(columns=[LABEL]).columns].assign(**{LABEL: 1})
    return pd.concat([train_scaled, synth], ignore_index=True)


def smote(train_scaled: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The training set balanced by SMOTE (imbalanced-learn), the classic interpolation reference."""
    from imblearn.over_sampling import SMOTE

    x, y = xy(train_scaled)
    k = max(1, min(5, int(y.sum()) - 1))
    xs, ys = SMOTE(k_neighbors=k, random_state=seed).fit_resample(x, y)
    return xs.assign(**{LABEL: ys})


def full_model(preprocessor, classifier) -> Pipeline:
    """One estimator from raw columns to fault probabilities: the preprocessor kept with the model."""
    return Pipeline([("preprocess", preprocessor), ("classifier", classifier)])


def evaluate(model, frame: pd.DataFrame, threshold: float = 0.5) -> dict[str, float]:
    """Metrics of a raw-column model on a raw split, deciding "faulty" at ``threshold``."""
    x, y = xy(frame)
    proba = np.asarray(model.predict_proba(x))[:, 1]
    return classification_report(y, (proba >= threshold).astype(int))


def reference_classifier(table: pd.DataFrame, label: str, seed: int = 0, class_weight: str | None = None,
                         categorical: list[str] | None = None) -> tuple[FaultClassifier, ing.Splits]:
    """A logistic regression on the table's training split, in the model contract, without synthesis:
    the quick model that serving tests and benchmarks register."""
    data = ing.prepare(table, label, categorical=categorical)
    splits = ing.split(data, seed=seed)
    pre = ing.fit_preprocessor(splits.train, data.categorical)
    estimator = full_model(pre, fit_classifier(ing.transform(pre, splits.train), seed=seed,
                                               class_weight=class_weight))
    schema = ing.schema_of(pre, splits.train, data.boolean)
    return FaultClassifier(estimator, schema, labels=(data.negative_label, data.positive_label)), splits
