"""The health-index DAG through kfp.local on a small simulated set; the registered HI served by KServe."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from cli import shopfloor
from mlflow import MlflowClient
from serving_fixtures import call

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
    result = shopfloor("run", "health-index", "--data", str(trajectories), "--model-name", "health-index", "--truth",
                       "wear", "--t-d", "20", "--t-f", "20", "--epochs", "15", "--json", str(out), home=home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reg = json.loads(out.read_text())
    assert (reg["model_name"], reg["version"], reg["alias"]) == ("health-index", 1, "champion")
    assert reg["metrics"]["test_truth_correlation"] > 0.8
    assert reg["metrics"]["train_monotonicity"] > 0.5

    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.get_run(client.get_model_version("health-index", "1").run_id)
    assert "test_monotonicity" in run.data.metrics
    assert "hi_trajectories.png" in {a.path for a in client.list_artifacts(run.info.run_id)}

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/health-index@champion")
    mlflow.set_tracking_uri(None)
    rows = pd.read_csv(trajectories).drop(columns=["unit", "time", "wear"]).head(10)
    expected = np.asarray(model.predict(rows)["health_index"], dtype=float)
    assert model.metadata.get_input_schema().input_names() == list(rows.columns)

    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": uri}
    with local_server("health-index", extra=["--poll-seconds", "0"], env=env, log=tmp_path / "serve.log") as url:
        meta = call(f"{url}/v2/models/health-index").body
        assert [o["name"] for o in meta["outputs"]] == ["health_index"]
        answer = call(f"{url}/v1/models/health-index:predict", {"instances": rows.to_dict(orient="records")})
        assert answer.status == 200, answer.body
        assert [p["health_index"] for p in answer.body["predictions"]] == expected.tolist()
        v2 = call(f"{url}/v2/models/health-index/infer", {"inputs": [
            {"name": "bands", "shape": [10, rows.shape[1]], "datatype": "FP32",
             "data": rows.astype("float32").values.ravel().tolist()}]})
        assert v2.status == 200 and v2.body["outputs"][0]["name"] == "health_index"
        assert np.array_equal(v2.body["outputs"][0]["data"],
                              np.asarray(model.predict(rows.astype("float32").astype(float))["health_index"]))
        bad = call(f"{url}/v1/models/health-index:predict", {"instances": [[1.0, 2.0]]})
        assert bad.status == 400 and f"expected {rows.shape[1]} values" in bad.body["error"]
        text = call(f"{url}/v1/models/health-index:predict",
                    {"instances": [{**rows.iloc[0].to_dict(), "band_00": "x"}]})
        assert text.status == 400 and "band_00: not a number" in text.body["error"]


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop(columns=["unit"]), "unit: column not found"),
    (lambda t: t.drop(columns=["time"]), "time: column not found"),
    (lambda t: t[(t.unit != 2) | (t.time == 0)], "unit=2: a unit needs more than one row"),
    (lambda t: t.assign(time=t.groupby("unit").cumcount(ascending=False)), "time must increase strictly"),
    (lambda t: t[t.time < 35], "fewer than T_d + T_f = 40"),
])
def test_bad_trajectories_stop_the_command_and_register_nothing(tmp_path, trajectories, change, message):
    path = tmp_path / "bad.csv"
    change(pd.read_csv(trajectories)).to_csv(path, index=False)
    home = tmp_path / "home"
    result = shopfloor("run", "health-index", "--data", str(path), "--model-name", "rtf", "--truth", "wear", "--t-d",
                       "20", "--t-f", "20", home=home, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    db = home / "mlflow.db"
    assert not db.exists() or MlflowClient(f"sqlite:///{db}").search_registered_models() == []
