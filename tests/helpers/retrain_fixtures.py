"""A registered gearbox champion (logistic regression or ResNet) with its reference rows, for retraining."""

from __future__ import annotations

from pathlib import Path

from shopfloor.constants import FAULT_MODEL as MODEL_NAME
from shopfloor.data import ingest as ing
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.fault_detection.train import fit_classifier, full_model
from shopfloor.registry import REFERENCE, Registration, register_model, use_tracking


def register_champion(
    home: Path, classifier: str = "logreg", rows: int = 1200, seed: int = 0, f2: float = 0.5
) -> Registration:
    """Fit ``classifier`` on undrifted simulated gearbox rows and register it as the champion."""
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    data = ing.prepare(simulate_gearbox(rows=rows, seed=seed), "faulty")
    splits = ing.split(data, seed=seed)
    prep = ing.Preprocessing.fit(data, splits.train)
    estimator = full_model(
        prep.preprocessor, fit_classifier(prep.scaled(splits.train), classifier, seed=seed, class_weight="balanced")
    )
    model = FaultClassifier(estimator, prep.schema, labels=prep.labels)
    reference = home / "reference.parquet"
    splits.train.to_parquet(reference, index=False)
    example = splits.train.drop(columns=[ing.LABEL]).head(5)
    return register_model(
        model,
        example,
        model_name=MODEL_NAME,
        experiment="retraining-tests",
        metrics={"test_f2": f2},
        params={"classifier": classifier},
        score_metric="test_f2",
        artifacts={REFERENCE: reference},
    )


def drifted_csv(path: Path, drift: float = 2.0, rows: int = 1500, seed: int = 7) -> Path:
    """New production rows after a supplier change (``simulate_gearbox(drift=...)``)."""
    simulate_gearbox(rows=rows, seed=seed, drift=drift).to_csv(path, index=False)
    return path
