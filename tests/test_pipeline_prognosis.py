"""The prognosis DAG through kfp.local on simulated curves (no table) and on a wear table; the registered model
served by KServe (variable-length wear sequences in, forecast and cuts left out, the same as the pyfunc's);
``shopfloor prognose``; bad input named, nothing registered; bad requests answered 400 naming the field."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.cli import nothing_registered, run_cli, shopfloor
from helpers.serving_fixtures import call
from mlflow import MlflowClient

from loadtest.run import local_server

pytestmark = pytest.mark.slow
FAST = ("--epochs", "3", "--train", "600", "--valid", "100", "--horizon", "6")


@pytest.fixture(scope="module")
def wear_table(tmp_path_factory):
    home = tmp_path_factory.mktemp("wear")
    path = home / "wear.csv"
    result = shopfloor("data", "simulate", "wear", "--cases", "5", "--seed", "2", "--out", str(path), home=home)
    assert result.returncode == 0, result.stderr
    return path


def test_prognosis_pipeline_registers_and_serves(tmp_path, wear_table):
    home, out = tmp_path / "home", tmp_path / "pg.json"
    result = shopfloor(
        "run",
        "prognosis",
        "--data",
        str(wear_table),
        "--model-name",
        "tools",
        "--time-column",
        "cut",
        "--valid-cases",
        "1,2",
        "--test-cases",
        "3,4,5",
        *FAST,
        "--json",
        str(out),
        home=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "test mean RMSE" in result.stdout
    reg = json.loads(out.read_text())
    assert (reg["model_name"], reg["version"], reg["alias"]) == ("tools", 1, "champion")
    metrics = reg["metrics"]
    assert {"valid_rmse", "test_rmse", "test_coverage", "test_rmse_case_3", "sample_seconds"} <= set(metrics)
    # the flow and its rival, the curve fit, on the same curves; the lower validation RMSE is registered
    compared = {row["method"]: row for row in reg["comparison"]}
    assert set(compared) == {"flow", "curve-fit"}
    assert reg["chosen"] == min(compared, key=lambda m: compared[m]["valid_rmse"])
    assert metrics["valid_rmse"] == pytest.approx(compared[reg["chosen"]]["valid_rmse"])
    other = ({"flow", "curve-fit"} - {reg["chosen"]}).pop().replace("-", "_")
    assert metrics[f"{other}_valid_rmse"] == pytest.approx(compared[other.replace("_", "-")]["valid_rmse"])
    assert "The flow against its rival" in result.stdout

    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.get_model_version("tools", "1").run_id
    assert client.get_run(run_id).data.tags["shopfloor.chosen"] == reg["chosen"]
    paths = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/prognosis.png", "prognosis_curves.csv", "training_history.csv"} <= paths

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/tools@champion")
    mlflow.set_tracking_uri(None)
    sequences = [[0.0, 0.03, 0.05, 0.09, 0.1, 0.14], [0.0, 0.1, 0.2]]
    expected = model.predict(pd.DataFrame({"wear": sequences}))
    assert list(expected.columns) == [
        "median",
        "q10",
        "q90",
        "remaining_cuts",
        "remaining_cuts_q10",
        "remaining_cuts_q90",
    ]
    assert len(expected["median"][0]) == 6

    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": uri}
    with local_server("tools", extra=["--poll-seconds", "0"], env=env, log=tmp_path / "serve.log") as url:
        meta = call(f"{url}/v2/models/tools").body
        assert [i["name"] for i in meta["inputs"]] == ["wear", "length"]
        assert meta["outputs"][0] == {"name": "median", "datatype": "FP64", "shape": [-1, 6]}
        v1 = call(f"{url}/v1/models/tools:predict", {"instances": sequences})
        assert v1.status == 200, v1.body
        for got, (_, want) in zip(v1.body["predictions"], expected.iterrows(), strict=True):
            assert np.allclose(got["median"], want["median"]) and np.allclose(got["q90"], want["q90"])
            for key in ("remaining_cuts", "remaining_cuts_q10", "remaining_cuts_q90"):  # NaN is null in JSON
                assert got[key] == (None if np.isnan(want[key]) else want[key])
        one = call(f"{url}/v1/models/tools:predict", {"instances": sequences[0]})
        assert one.status == 200 and np.allclose(one.body["predictions"][0]["median"], expected["median"][0])
        v2 = call(
            f"{url}/v2/models/tools/infer",
            {
                "inputs": [
                    {
                        "name": "wear",
                        "shape": [2, 6],
                        "datatype": "FP64",
                        "data": sequences[0] + sequences[1] + [0.0] * 3,
                    },
                    {"name": "length", "shape": [2], "datatype": "INT64", "data": [6, 3]},
                ]
            },
        )
        assert v2.status == 200, v2.body
        median = np.array(v2.body["outputs"][0]["data"]).reshape(2, 6)
        assert np.allclose(median[1], expected["median"][1])
        for body, message in (
            ({"instances": [[0.1]]}, "instances[0]: a wear sequence needs 2 to 1000 values, got 1"),
            ({"instances": [[0.0, None, 0.2]]}, "instances[0][1]: not a number: None"),
            ({"instances": [[0.0, -0.1, 0.2]]}, "instances[0][1]: -0.1 mm is outside [0, 3] mm"),
            ({"instances": [[0.0, 0.1, 5.0]]}, "instances[0][2]: 5 mm is outside [0, 3] mm"),
            ({"rows": [[0.0, 0.1]]}, "instances: the body must be a JSON object"),
        ):
            bad = call(f"{url}/v1/models/tools:predict", body)
            assert bad.status == 400 and message in bad.body["error"], bad.body

    answer = shopfloor(
        "prognose",
        "--model-name",
        "tools",
        "--wear",
        "0,0.03,0.05,0.09,0.1,0.14",
        "--json",
        str(tmp_path / "one.json"),
        home=home,
    )
    assert answer.returncode == 0, answer.stderr
    assert "cuts left until 0.7 mm" in answer.stdout
    assert np.allclose(json.loads((tmp_path / "one.json").read_text())["median"], expected["median"][0])
    bad = shopfloor("prognose", "--model-name", "tools", "--wear", "0.1", home=home)
    assert bad.returncode == 2 and "wear sequence needs 2 to 1000 values, got 1" in bad.stderr, bad.stderr


def test_prognosis_runs_on_simulated_curves_without_a_table(tmp_path):
    home, out = tmp_path / "home", tmp_path / "pg.json"
    result = shopfloor("run", "prognosis", *FAST, "--json", str(out), home=home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = json.loads(out.read_text())["metrics"]
    assert {"valid_rmse", "test_rmse"} <= set(metrics)


def test_bad_wear_input_is_named_and_nothing_is_registered(tmp_path, wear_table, capsys, monkeypatch):
    home = tmp_path / "home"
    table = pd.read_csv(wear_table)
    falling = tmp_path / "falling.csv"
    table.assign(VB=-table["cut"] * 0.01 + 1.0).to_csv(falling, index=False)
    negative = tmp_path / "negative.csv"
    table.assign(VB=table["VB"] - 5).to_csv(negative, index=False)
    for args, message in (
        (
            ["--data", str(wear_table), "--case-column", "tool"],
            "tool: no column named 'tool' in the table; name it with --case-column",
        ),
        (["--data", str(wear_table), "--wear-column", "vb"], "vb: no column named 'vb'"),
        (["--data", str(falling), "--time-column", "cut"], "case=1: wear decreases at every cut"),
        (["--data", str(negative)], "wear cannot be negative"),
        (["--data", str(wear_table), "--test-cases", "9"], "test-cases: no case '9' in the table"),
        (["--data", str(wear_table), "--vb-limit", "7"], "argument --vb-limit: must be at most 3, got 7"),
        (["--data", str(wear_table), "--observed", "30"], "observed: no evaluation curve is longer than the 30"),
    ):
        code, _, err = run_cli(
            "run", "prognosis", "--model-name", "tools", *FAST, *args, home=home, capsys=capsys, monkeypatch=monkeypatch
        )
        assert code == 2, err[-2000:]
        assert message in err, err[-2000:]
        assert "Traceback" not in err
        nothing_registered(home)
