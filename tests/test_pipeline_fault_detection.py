"""The whole fault-detection DAG through kfp.local on a small simulated set, into a temporary MLflow store."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from cli import shopfloor
from mlflow import MlflowClient

from shopfloor.registry import load_version

pytestmark = pytest.mark.slow
MODEL = "gearbox-line-3"


def _run(gearbox_csv, tmp_path, home, seed, synthesizer, filt):
    out = tmp_path / f"result{seed}.json"
    result = shopfloor("run", "fault-detection", "--data", str(gearbox_csv), "--model-name", MODEL, "--synthesizer",
                       synthesizer, "--filter", filt, "--trials", "2", "--timeout", "60", "--max-epochs", "12",
                       "--seed", str(seed), "--json", str(out), home=home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads(out.read_text())


def test_pipeline_registers_and_promotes_by_f2(tmp_path, gearbox_csv):
    home = tmp_path / "home"
    first, run = _run(gearbox_csv, tmp_path, home, 0, "all", "both")

    # quiet: one line per step, the table and the result; kfp.local's executor logs went to a file
    lines = first.stdout.splitlines()
    steps = [line.split()[0] for line in lines if line.startswith("  ") and " s  " in line]
    assert steps.count("synthesize") == 3 and steps.count("filter") == 3
    assert {"ingest", "train", "register"} <= set(steps)
    assert len(lines) < 40, first.stdout
    assert "KFP Executor" not in first.stdout and "KFP Executor" in open(run["log"]).read()
    assert "| baseline |" in first.stdout and f"registered: {MODEL} version 1 as @champion" in first.stdout

    # with "all", the three parallel branches each trained a classifier, beside the three references
    assert set(run["report"]["models"]) == {"baseline", "class_weighted", "smote", "wgan", "ctgan", "flow"}
    assert (run["version"], run["alias"]) == (1, "champion")
    # the chosen model was picked on validation F2, never on test
    report = run["report"]
    assert report["best"] == max(report["models"], key=lambda m: (report["models"][m]["valid"]["f2"], m != "baseline"))

    # one MLflow pyfunc in the model contract: preprocessing and threshold inside, raw columns in
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)
    try:
        pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
        registered = load_version(MODEL, 1)
    finally:
        mlflow.set_tracking_uri(None)
    rows = pd.read_csv(gearbox_csv).drop(columns=["faulty"]).head(50)
    assert pyfunc.metadata.get_input_schema().input_names() == list(rows.columns)
    proba = registered.estimator.predict_proba(rows)[:, 1]
    answer = pyfunc.predict(rows)
    assert np.allclose(answer["fault_probability"], proba, atol=1e-12)
    assert answer["class"].tolist() == (proba >= registered.threshold).astype(int).tolist()

    first_run = client.get_model_version(MODEL, "1").run_id
    artifacts = {a.path for a in client.list_artifacts(first_run)}
    assert {"confusion_matrices.png", "comparison.json", "comparison_test.json", "fidelity.json", "plots",
            "synthesizers"} <= artifacts
    assert {a.path for a in client.list_artifacts(first_run, "synthesizers")} == {
        "synthesizers/wgan", "synthesizers/ctgan", "synthesizers/flow"}
    metrics = client.get_run(first_run).data.metrics
    for name in ("wgan", "ctgan", "flow"):  # the logged fidelity is the one each branch measured
        local = mlflow.artifacts.download_artifacts(run_id=first_run, artifact_path=f"synthesizers/{name}/info.json",
                                                    tracking_uri=uri)
        info = json.loads(open(local).read())
        assert metrics[f"{name}_fidelity_ks_complement"] == pytest.approx(info["fidelity_ks_complement"])
        assert info["trials"] == 2

    # A champion recorded with a perfect test F2 cannot be beaten: the next run registers a challenger.
    client.log_metric(first_run, "test_f2", 1.0)
    second, again = _run(gearbox_csv, tmp_path, home, 1, "wgan", "kmeans")
    assert set(again["report"]["models"]) == {"baseline", "class_weighted", "smote", "wgan"}
    assert (again["version"], again["alias"], again["previous_champion"]) == (2, "challenger", 1.0)
    assert int(client.get_model_version_by_alias(MODEL, "champion").version) == 1
