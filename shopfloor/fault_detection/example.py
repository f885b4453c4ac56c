"""Fault detection's example for the docs: a logistic regression on 800 simulated gearbox parts, asked about one."""

from __future__ import annotations

from pathlib import Path

from shopfloor.examples import Example


def example(folder: Path) -> Example:
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.fault_detection.train import reference_classifier

    model, splits = reference_classifier(simulate_gearbox(rows=800, seed=0), "faulty")
    part = splits.test.drop(columns=["label"]).head(1)
    return Example(
        model,
        splits.train.drop(columns=["label"]).head(5),
        [{k: round(float(v), 3) for k, v in row.items()} for row in part.to_dict(orient="records")],
        "test_f2",
    )
