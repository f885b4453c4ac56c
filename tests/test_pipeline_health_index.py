"""The health-index DAG through kfp.local on a small simulated set: every method cross-validated, the table's
winner registered; the registered HI served by KServe: one unit's rows in, HI, remaining life and its interval
out, the same as the pyfunc's, causal, bad requests refused."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.cli import run_cli, shopfloor
from helpers.serving_fixtures import call
from mlflow import MlflowClient

from loadtest.run import local_server
from shopfloor.data.simulate import simulate_run_to_failure

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trajectories(tmp_path_factory):
    path = tmp_path_factory.mktemp("hi") / "rtf.csv"
    simulate_run_to_failure(units=5, min_life=80, max_life=120, n_bands=8, seed=4).to_csv(path, index=False)
    return path


def test_health_index_pipeline_registers_and_serves(tmp_path, trajectories):
    home = tmp_path / "home"
    out = tmp_path / "hi.json"
    result = shopfloor(
        "run",
        "health-index",
        "--data",
        str(trajectories),
        "--model-name",
        "health-index",
        "--truth-column",
        "wear",
        "--healthy-steps",
        "0.2",
        "--failed-steps",
        "20",
        "--epochs",
        "15",
        "--window",
        "3",
        "--json",
        str(out),
        home=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reg = json.loads(out.read_text())
    assert (reg["model_name"], reg["version"], reg["alias"]) == ("health-index", 1, "champion")
    table = pd.DataFrame(reg["cv"]).set_index("method")
    assert list(table.index) == ["ridge", "hgb", "apaic", "a2ds", "sensors"]
    his = table[table["kind"] == "health index"]
    assert reg["method"] == his["spearman_rul"].idxmin()  # the CV's winner is what is registered
    assert "| method | kind | spearman_rul |" in result.stdout and f"chosen: {reg['method']}" in result.stdout
    metrics = reg["metrics"]
    assert metrics["test_truth_correlation"] > 0.7  # a held-out unit, scored step by step
    assert {
        "test_trendability_median",
        "test_trendability_pearson",
        "test_rul_rmse",
        "test_spearman_rul",
        "test_rul_interval_coverage",
    } <= set(metrics)

    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.get_run(client.get_model_version("health-index", "1").run_id)
    assert "test_monotonicity" in run.data.metrics and run.data.tags["shopfloor.method"] == reg["method"]
    assert {"hi_trajectories.png", "health_index_cv.csv"} <= {a.path for a in client.list_artifacts(run.info.run_id)}

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/health-index@champion")
    mlflow.set_tracking_uri(None)
    table = pd.read_csv(trajectories)
    unit = table[table.unit == 2].drop(columns=["wear"]).reset_index(drop=True)
    assert model.metadata.get_input_schema().input_names() == list(unit.columns)
    expected = model.predict(unit)
    assert np.allclose(model.predict(unit.head(30))["health_index"], expected["health_index"][:30])  # causal
    assert (expected["rul_lower"] <= expected["rul"]).all() and (expected["rul"] <= expected["rul_upper"]).all()

    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": uri}
    with local_server("health-index", extra=["--poll-seconds", "0"], env=env, log=tmp_path / "serve.log") as url:
        meta = call(f"{url}/v2/models/health-index").body
        assert [o["name"] for o in meta["outputs"]] == ["health_index", "rul", "rul_lower", "rul_upper"]
        answer = call(f"{url}/v1/models/health-index:predict", {"instances": unit.to_dict(orient="records")})
        assert answer.status == 200, answer.body
        assert [p["health_index"] for p in answer.body["predictions"]] == expected["health_index"].tolist()
        assert [p["rul"] for p in answer.body["predictions"]] == expected["rul"].tolist()
        assert [p["rul_upper"] for p in answer.body["predictions"]] == expected["rul_upper"].tolist()
        v2 = call(
            f"{url}/v2/models/health-index/infer",
            {
                "inputs": [
                    {
                        "name": "rows",
                        "shape": list(unit.shape),
                        "datatype": "FP64",
                        "data": unit.astype(float).values.ravel().tolist(),
                    }
                ]
            },
        )
        assert v2.status == 200 and v2.body["outputs"][0]["data"] == expected["health_index"].tolist()
        records = unit.to_dict(orient="records")
        for body, message in (
            ({"instances": records[:10] + [{**records[10], "unit": 3.0}]}, "unit: rows of 2 units"),
            ({"instances": records[:5] + records[3:4]}, "time: time must increase within the unit"),
            ({"instances": records[:2]}, "unit: 2 rows, fewer than the model's window of 3"),
            ({"instances": [{**records[0], "band_00": "x"}] + records[1:5]}, "band_00: not a number"),
        ):
            bad = call(f"{url}/v1/models/health-index:predict", body)
            assert bad.status == 400 and message in bad.body["error"], bad.body


@pytest.mark.parametrize(
    "change, message, extra",
    [
        (lambda t: t.drop(columns=["unit"]), "unit: column not found", []),
        (lambda t: t.drop(columns=["time"]), "time: column not found", []),
        (lambda t: t[(t.unit != 2) | (t.time == 0)], "unit=2: a unit needs more than one row", []),
        (lambda t: t.assign(time=t.groupby("unit").cumcount(ascending=False)), "time must increase strictly", []),
        (lambda t: t[t.time < 35], "fewer than T_d + T_f = 40", []),
        (lambda t: t, "setpoint: operating-condition column not found", ["--condition", "setpoint"]),
        (lambda t: t, "shorter than the rolling window of 500", ["--window", "500"]),
        (lambda t: t, "weight-decay: a number or 'auto', got 'lots'", ["--weight-decay", "lots"]),
        (lambda t: t, "methods: choose from ridge, hgb, apaic, a2ds, got 'svm'", ["--methods", "svm"]),
        (lambda t: t, "folds: must be at least 2, got 1", ["--cv-folds", "1"]),
    ],
)
def test_bad_trajectories_stop_the_command_and_register_nothing(
    tmp_path, trajectories, change, message, extra, capsys, monkeypatch
):
    path = tmp_path / "bad.csv"
    change(pd.read_csv(trajectories)).to_csv(path, index=False)
    home = tmp_path / "home"
    code, _, err = run_cli(
        "run",
        "health-index",
        "--data",
        str(path),
        "--model-name",
        "rtf",
        "--truth-column",
        "wear",
        "--healthy-steps",
        "20",
        "--failed-steps",
        "20",
        *extra,
        home=home,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert code == 2, err[-2000:]
    assert message in err and "Traceback" not in err
    db = home / "mlflow.db"
    assert not db.exists() or MlflowClient(f"sqlite:///{db}").search_registered_models() == []
