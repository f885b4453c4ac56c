"""The whole fault-detection DAG through kfp.local on a small simulated set, into a temporary MLflow store."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.cli import shopfloor
from mlflow import MlflowClient

from shopfloor.registry import load_version

pytestmark = pytest.mark.slow
MODEL = "gearbox-line-3"


def _run(data, tmp_path, home, seed, synthesizer, filt, *extra):
    out = tmp_path / f"result{seed}.json"
    result = shopfloor(
        "run",
        "fault-detection",
        "--data",
        str(data),
        "--model-name",
        MODEL,
        "--synthesizer",
        synthesizer,
        "--filter",
        filt,
        "--trials",
        "2",
        "--timeout",
        "60",
        "--max-steps",
        "24",
        "--cv-folds",
        "2",
        "--classifier",
        "logreg",
        "--seed",
        str(seed),
        "--json",
        str(out),
        *extra,
        home=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads(out.read_text())


def test_pipeline_registers_and_promotes_by_f2(tmp_path, gearbox_csv):
    home = tmp_path / "home"
    first, run = _run(gearbox_csv, tmp_path, home, 0, "all", "discriminator")

    # quiet: one line per step, the table and the result; kfp.local's executor logs went to a file
    lines = first.stdout.splitlines()
    steps = [line.split()[0] for line in lines if line.startswith("  ") and " s  " in line]
    assert steps.count("synthesize") == 3 and steps.count("filter") == 3
    assert {"ingest", "train", "register"} <= set(steps)
    assert len(lines) < 44, first.stdout  # check, header, steps, table, choice, registration, report, run
    assert "KFP Executor" not in first.stdout and "KFP Executor" in open(run["log"]).read()
    assert "| baseline |" in first.stdout and f"registered: {MODEL} version 1 as @champion" in first.stdout

    # with "all", the three parallel branches each trained a classifier, beside the references
    report = run["report"]
    assert set(report["methods"]) == {
        "baseline",
        "class_weighted",
        "smote",
        "smote-discriminator",
        "wgan",
        "ctgan",
        "flow",
    }
    assert (run["version"], run["alias"], run["reason"]) == (1, "champion", "no champion yet")
    # the chosen model has the best cross-validated score; the test split chose nothing
    methods = report["methods"]
    assert report["best"] == max(methods, key=lambda m: (methods[m]["cv"]["score"], -list(methods).index(m)))
    assert report["cv"]["folds"] == 2 and all(0 < m["threshold"] < 1 for m in methods.values())

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
    assert registered.threshold == methods[report["best"]]["threshold"] != 0.5  # the CV-chosen threshold
    assert answer["class"].tolist() == (proba >= registered.threshold).astype(int).tolist()

    # one report per run: a self-contained page with its comparison table (the chosen row marked), plots inline,
    # the registry's decision; its path printed at the end of the run; the same facts as the version's model card
    page = run["report_html"].removeprefix("file://")
    assert f"report: {page}" in first.stdout and f"MLflow run: {run['run_id']}" in first.stdout
    html = open(page).read()
    assert html.startswith("<!DOCTYPE html>") and "http://" not in html and "https://" not in html  # no fetches
    assert f'<tr class="chosen"><td>{report["best"]}</td>' in html
    assert html.count("data:image/png;base64,") >= 2 and "version 1 of gearbox-line-3 is @champion" in html
    card = client.get_model_version(MODEL, "1").description
    assert card.startswith("**fault-detection** model. Predicts: class") and "Measured on held-out rows: test_" in card

    first_run = client.get_model_version(MODEL, "1").run_id
    artifacts = {a.path for a in client.list_artifacts(first_run)}
    assert {
        "report.html",
        "confusion_matrices.png",
        "comparison.json",
        "comparison_test.json",
        "fidelity.json",
        "plots",
        "synthesizers",
    } <= artifacts
    assert {a.path for a in client.list_artifacts(first_run, "synthesizers")} == {
        "synthesizers/wgan",
        "synthesizers/ctgan",
        "synthesizers/flow",
    }
    metrics = client.get_run(first_run).data.metrics
    for name in ("wgan", "ctgan", "flow"):  # the logged fidelity is the one each branch measured
        local = mlflow.artifacts.download_artifacts(
            run_id=first_run, artifact_path=f"synthesizers/{name}/info.json", tracking_uri=uri
        )
        info = json.loads(open(local).read())
        assert metrics[f"{name}_fidelity_ks_complement"] == pytest.approx(info["fidelity_ks_complement"])
        assert info["trials"] == 2 and info["sets"] == 3  # 2 CV folds + the final set


def test_a_table_with_other_columns_never_replaces_the_champion(tmp_path, gearbox_csv):
    """The line's table changes a column: the champion cannot read the new rows, so it is not replaced."""
    from helpers.serving_fixtures import register_gearbox_model

    home = tmp_path / "home"
    home.mkdir()
    register_gearbox_model(home, f2=0.5, name=MODEL)  # v1 on the line's columns
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    renamed = tmp_path / "renamed.csv"
    pd.read_csv(gearbox_csv).rename(columns={"ws1_press_pinion_peak_kN": "pinion_peak"}).to_csv(renamed, index=False)
    second, again = _run(renamed, tmp_path, home, 1, "wgan", "kmeans")
    assert set(again["report"]["methods"]) == {"baseline", "class_weighted", "smote", "smote-kmeans", "wgan"}
    assert (again["version"], again["alias"]) == (2, "challenger")
    assert "champion v1 takes other columns (e.g. 'ws1_press_pinion_peak_kN')" in second.stdout
    assert int(client.get_model_version_by_alias(MODEL, "champion").version) == 1
    tags = client.get_run(client.get_model_version(MODEL, "2").run_id).data.tags
    assert tags["shopfloor.decision"] == "challenger" and "other columns" in tags["shopfloor.reason"]
