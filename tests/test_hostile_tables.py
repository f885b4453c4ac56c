"""Fault detection on real plant tables: every table of a hostile but legitimate corpus either trains with every
synthesizer or is rejected at ingest with a named error in a second; a synthesizer that fails leaves a model
registered from the others with the failure reported; ``--classifier auto`` picks gradient boosting where only a
non-linear boundary separates the classes."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from helpers.cli import shopfloor
from helpers.hostile_tables import LABEL, corpus
from mlflow import MlflowClient

from shopfloor.data import ingest as ing
from shopfloor.errors import DataError
from shopfloor.fault_detection import workflow as fd
from shopfloor.synth.catalog import NAMES, synthesizer_class

CORPUS = corpus()


@pytest.mark.parametrize("name, table, options, expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_table_trains_every_synthesizer_or_is_named_at_ingest(name, table, options, expected):
    started = time.perf_counter()
    if expected != "trains":
        with pytest.raises(DataError, match=expected.split(": ", 1)[1]) as caught:
            ing.prepare(table, LABEL, **options)
        assert caught.value.field == expected.split(":")[0]
        assert time.perf_counter() - started < 1.0
        return
    prepared = ing.prepare(table, LABEL, **options)
    faults = ing.fill_missing(prepared.features[prepared.label == 1].reset_index(drop=True))
    for synthesizer in NAMES:
        model = synthesizer_class(synthesizer)(steps=4, seed=0, progress=False).fit(faults)
        rows = model.sample(12, seed=1)
        assert list(rows.columns) == list(faults.columns), synthesizer
        for column in prepared.categorical:  # a category comes back as one seen in training
            assert set(rows[column]) <= set(faults[column]), (synthesizer, column)


def hostile_table(path) -> None:
    """One table holding most of the corpus' hostile columns at once (and 12 faulty rows of 300)."""
    rng = np.random.default_rng(3)
    n = 300
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, 12, replace=False)] = 1
    pd.DataFrame(
        {
            "Druck [bar] ü": rng.normal(10 + 2 * y, 1.0),
            "torque": rng.normal(50 - 6 * y, 3.0),
            "x_mm": rng.permutation(n) * 0.731,
            "line": 3.0,
            "cycles": rng.integers(0, 500, n).astype(float),
            "coolant_on": rng.choice(["True", "False"], n),
            "tool": [f"T{k}" for k in rng.integers(0, 60, n)],
            "humidity": np.where(rng.random(n) < 0.5, np.nan, rng.normal(40, 5, n)),
            "serial": [f"SN-{i:06d}" for i in range(n)],
            LABEL: y,
        }
    ).to_csv(path, index=False)


FAST = ("--trials", "2", "--timeout", "30", "--max-steps", "16", "--cv-folds", "2", "--classifier", "logreg")


@pytest.mark.slow
def test_the_whole_pipeline_runs_a_hostile_table_with_every_synthesizer(tmp_path):
    data = tmp_path / "parts.csv"
    hostile_table(data)
    home, out = tmp_path / "home", tmp_path / "run.json"
    result = shopfloor(
        "run",
        "fault-detection",
        "--data",
        str(data),
        "--label-column",
        LABEL,
        "--model-name",
        "parts",
        "--drop",
        "serial",
        "--categorical",
        "coolant_on,tool",
        "--synthesizer",
        "all",
        *FAST,
        "--json",
        str(out),
        home=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = json.loads(out.read_text())
    assert run["methods_failed"] == 0 and {"wgan", "ctgan", "flow"} <= set(run["report"]["methods"])
    assert (run["version"], run["alias"]) == (1, "champion")


@pytest.mark.slow
def test_a_failing_synthesizer_is_reported_and_the_others_register(tmp_path, gearbox_csv, monkeypatch):
    home, out = tmp_path / "home", tmp_path / "run.json"
    monkeypatch.setenv("SHOPFLOOR_FAILPOINT", "synthesize-flow:raise")
    result = shopfloor(
        "run",
        "fault-detection",
        "--data",
        str(gearbox_csv),
        "--model-name",
        "line-4",
        "--synthesizer",
        "wgan,flow",
        *FAST,
        "--json",
        str(out),
        home=home,
    )
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-3000:]  # registered, a method failed
    run = json.loads(out.read_text())
    report = run["report"]
    assert run["methods_failed"] == 1 and set(report["failed"]) == {"flow"}
    assert "fail point synthesize-flow reached" in report["failed"]["flow"]["error"]
    assert "flow" not in report["methods"] and "wgan" in report["methods"]
    assert report["best"] in report["methods"]
    assert "LEFT OUT" in result.stdout and "left out: flow failed at synthesize flow" in result.stdout
    assert "| flow |" in result.stdout  # the comparison table has a row naming the failure
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    version = client.get_model_version("line-4", "1")
    mlflow_run = client.get_run(version.run_id)
    assert mlflow_run.data.metrics["methods_failed"] == 1.0
    assert "flow at synthesize flow" in mlflow_run.data.tags["shopfloor.failed_methods"]
    assert int(client.get_model_version_by_alias("line-4", "champion").version) == 1


def test_auto_classifier_picks_gradient_boosting_for_a_nonlinear_boundary(tmp_path):
    """Faults where two measurements share a sign (XOR-like): no linear boundary separates them."""
    rng = np.random.default_rng(0)
    n = 900
    a, b = rng.normal(0, 1, n), rng.normal(0, 1, n)
    faulty = ((a > 0.6) & (b > 0.6)) | ((a < -0.6) & (b < -0.6))
    table = tmp_path / "xor.csv"
    pd.DataFrame({"a": a, "b": b, "c": rng.normal(0, 1, n), LABEL: faulty.astype(int)}).to_csv(table, index=False)
    p = {k: str(tmp_path / k) for k in ("train", "valid", "test", "pre", "models", "report", "plot")}
    fd.ingest_step(str(table), LABEL, train=p["train"], valid=p["valid"], test=p["test"], preprocessing=p["pre"])
    summary = fd.train_step(
        p["train"],
        p["valid"],
        p["test"],
        p["pre"],
        {},
        models_dir=p["models"],
        report=p["report"],
        plot=p["plot"],
        classifier="auto",
        filter_method="none",
        threshold_metric="f2",
        cv_folds=3,
        cv_repeats=1,
        seed=0,
    )
    assert summary["classifiers"] == ["logreg", "hgb"]
    assert {"baseline/logreg", "baseline/hgb"} <= set(summary["methods"])
    assert summary["best"].endswith("/hgb")
    hgb = summary["methods"]["baseline/hgb"]["cv"]["score"]
    assert hgb > summary["methods"]["baseline/logreg"]["cv"]["score"] + 0.2
    table_rows = fd.comparison_table(summary)
    assert "baseline/hgb" in table_rows.index


def test_bad_classifier_choice_is_named():
    with pytest.raises(DataError, match="classifier: choose one of auto, all, logreg"):
        fd.classifier_families("forest")
