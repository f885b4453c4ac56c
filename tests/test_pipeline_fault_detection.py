"""The whole fault-detection DAG through kfp.local on a small simulated set, into a temporary MLflow store."""

import json

import mlflow
import pytest
from cli import shopfloor
from mlflow import MlflowClient

pytestmark = pytest.mark.slow


def test_pipeline_registers_and_promotes_by_f2(tmp_path, gearbox_csv):
    home = tmp_path / "home"
    runs = []
    for seed, synthesizer, filt in ((0, "all", "both"), (1, "wgan", "kmeans")):
        out = tmp_path / f"result{seed}.json"
        result = shopfloor("run", "fault-detection", "--data", str(gearbox_csv), "--synthesizer", synthesizer,
                           "--filter", filt, "--trials", "2", "--timeout", "60", "--max-epochs", "12",
                           "--seed", str(seed), "--json", str(out), home=home)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "| baseline |" in result.stdout and "| wgan |" in result.stdout
        assert "registered: gearbox-fault-classifier version" in result.stdout
        runs.append(json.loads(out.read_text()))
    # with "all", the three branches each trained a classifier, beside the three references
    assert set(runs[0]["report"]["models"]) == {"baseline", "class_weighted", "smote", "wgan", "ctgan", "flow"}
    assert set(runs[1]["report"]["models"]) == {"baseline", "class_weighted", "smote", "wgan"}

    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    versions = sorted(int(v.version) for v in client.search_model_versions("name='gearbox-fault-classifier'"))
    assert versions == [1, 2]
    assert runs[0]["alias"] == "champion" and runs[0]["version"] == 1
    f2 = [client.get_run(client.get_model_version("gearbox-fault-classifier", str(v)).run_id).data.metrics["test_f2"]
          for v in (1, 2)]
    assert runs[1]["alias"] == ("champion" if f2[1] >= f2[0] else "challenger")
    champion = client.get_model_version_by_alias("gearbox-fault-classifier", "champion")
    assert int(champion.version) == (2 if f2[1] >= f2[0] else 1)

    # the chosen model was picked on validation F2, never on test
    report = runs[1]["report"]
    assert report["best"] == max(report["models"], key=lambda m: (report["models"][m]["valid"]["f2"], m != "baseline"))

    # one MLflow model, preprocessor included, whose signature names the features
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/gearbox-fault-classifier@champion")
    inputs = model.metadata.get_input_schema().input_names()
    assert len(inputs) == 66 and inputs[0] == "ws1_press_bearing_a_peak_kN"
    import pandas as pd

    rows = pd.read_csv(gearbox_csv).drop(columns=["faulty"]).head(20)
    assert set(model.predict(rows)) <= {0, 1}
    first = client.get_model_version("gearbox-fault-classifier", "1").run_id
    artifacts = {a.path for a in client.list_artifacts(first)}
    assert {"confusion_matrices.png", "comparison.json", "comparison_test.json", "fidelity.json", "plots",
            "synthesizers"} <= artifacts
    assert {a.path for a in client.list_artifacts(first, "synthesizers")} == {
        "synthesizers/wgan", "synthesizers/ctgan", "synthesizers/flow"}
    metrics = client.get_run(first).data.metrics
    assert all(0 <= metrics[f"{s}_fidelity_ks_complement"] <= 1 for s in ("wgan", "ctgan", "flow"))
    mlflow.set_tracking_uri(None)
