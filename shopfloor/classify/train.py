"""Train the interpretable logistic-regression classifier on original or augmented rows.

Training happens in the preprocessor's [-1, 1] space (where synthetic rows live); the returned
model chains the fitted preprocessor and the classifier, so it takes raw feature rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shopfloor.classify.metrics import classification_report
from shopfloor.data import ingest as ing
from shopfloor.data.ingest import LABEL, xy


def fit_logreg(train_scaled: pd.DataFrame, seed: int = 0, class_weight: str | None = None) -> LogisticRegression:
    """L2 logistic regression on scaled rows (features + ``label``)."""
    x, y = xy(train_scaled)
    return LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=seed).fit(x, y)


CLASSIFIERS = ("logreg", "resnet")


def fit_classifier(train_scaled: pd.DataFrame, kind: str = "logreg", seed: int = 0,
                   class_weight: str | None = None):
    """A logistic regression or a ResNet classifier (``shopfloor.retrain``) on scaled rows."""
    if kind == "logreg":
        return fit_logreg(train_scaled, seed=seed, class_weight=class_weight)
    if kind != "resnet":
        raise ValueError(f"classifier must be one of {list(CLASSIFIERS)}, got {kind!r}")
    from shopfloor.retrain.estimators import ResNetClassifier

    x, y = xy(train_scaled)
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


def full_model(preprocessor: Pipeline, classifier) -> Pipeline:
    """One estimator from raw features to classes: the preprocessor kept with the model."""
    return Pipeline([("preprocess", preprocessor), ("classifier", classifier)])


def evaluate(model: Pipeline, frame: pd.DataFrame) -> dict[str, float]:
    """Metrics of a raw-feature model on a raw split."""
    x, y = xy(frame)
    return classification_report(y, np.asarray(model.predict(x)))


def train_reference(table: pd.DataFrame, label: str, seed: int = 0, class_weight: str | None = None
                    ) -> tuple[Pipeline, ing.Splits]:
    """A logistic regression on the table's training split, preprocessor included, without synthesis:
    the quick model that serving tests and benchmarks register."""
    splits = ing.split(ing.prepare(table, label), seed=seed)
    pre = ing.fit_preprocessor(splits.train)
    return full_model(pre, fit_logreg(ing.transform(pre, splits.train), seed=seed, class_weight=class_weight)), splits
