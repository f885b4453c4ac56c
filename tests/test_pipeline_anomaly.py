"""The anomaly-detection DAG through kfp.local on a small simulated milling set; the registered detector served
by KServe (one sub-cut or a batch in, a score and a flag out, the same as the pyfunc's), for a simple detector and
for the beta-VAE; the simple detector registered when it wins on validation; bad input named, nothing
registered; bad requests answered 400 naming the field."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.io
from helpers.cli import nothing_registered, run_cli, shopfloor
from helpers.serving_fixtures import call
from mlflow import MlflowClient

from loadtest.run import local_server
from shopfloor.anomaly_detection import data as milling

pytestmark = pytest.mark.slow
FAST = ("--trials", "2", "--epochs", "4", "--max-filters", "16", "--timeout", "120")


@pytest.fixture(scope="module")
def cuts(tmp_path_factory):
    home = tmp_path_factory.mktemp("sim")
    path = home / "mill.parquet"
    result = shopfloor(
        "data", "simulate", "milling", "--cases", "6", "--samples", "800", "--seed", "5", "--out", str(path), home=home
    )
    assert result.returncode == 0, result.stderr
    assert "cuts of failed tools" in result.stdout
    return path


def test_anomaly_pipeline_registers_and_serves(tmp_path, cuts):
    home, out = tmp_path / "home", tmp_path / "ad.json"
    result = shopfloor(
        "run",
        "anomaly-detection",
        "--data",
        str(cuts),
        "--model-name",
        "mill-line",
        "--split",
        "subcut",
        *FAST,
        "--json",
        str(out),
        home=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| detector | chosen | valid_ap |" in result.stdout
    reg = json.loads(out.read_text())
    assert (reg["model_name"], reg["version"], reg["alias"]) == ("mill-line", 1, "champion")
    table = pd.DataFrame(reg["comparison"]).set_index("detector")
    assert list(table.index) == ["rms", "mahalanobis", "isolation_forest", "beta_vae"]
    assert table.index[table["chosen"]].tolist() == [reg["detector"]]
    assert table.loc[reg["detector"], "valid_ap"] == table["valid_ap"].max()  # chosen on validation, not test
    metrics = reg["metrics"]
    for key in (
        "test_ap",
        "test_pr_auc",
        "test_roc_auc",
        "test_cut_ap",
        "valid_ap",
        "train_ap",
        "test_no_skill_precision",
        "test_ap_material_1",
        "valid_ap_beta_vae",
        "test_ap_rms",
    ):
        assert key in metrics, key
    assert metrics["test_ap"] > metrics["test_no_skill_precision"]

    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.get_model_version("mill-line", "1").run_id
    files = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/pr_roc.png", "plots/violin.png", "plots/ap_by_parameter.png"} <= files
    assert any(f.startswith("plots/trend_case_") for f in files)
    assert {"search_trials.csv", "detector_comparison.csv"} <= {a.path for a in client.list_artifacts(run_id)}
    assert client.get_run(run_id).data.tags["shopfloor.detector"] == reg["detector"]

    mlflow.set_tracking_uri(uri)
    model = mlflow.pyfunc.load_model("models:/mill-line@champion")
    mlflow.set_tracking_uri(None)
    sub = milling.subcuts(milling.load_table(pd.read_parquet(cuts)))
    windows = sub.X[sub.meta["tool_class"].to_numpy() == 2][:5].astype(np.float64)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": uri}
    with local_server("mill-line", extra=["--poll-seconds", "0"], env=env, log=tmp_path / "serve.log") as url:
        served_matches_pyfunc(url, "mill-line", model, windows)
        with_null = windows[0].tolist()
        with_null[7][3] = None
        text = windows[0].tolist()
        text[1][0] = "1.5"
        for body, message in (
            ({"instances": [windows[0][:63].tolist()]}, "expected windows of shape [64, 5]"),
            ({"instances": [windows[0][:, :4].tolist()]}, "expected windows of shape [64, 5]"),
            ({"instances": [with_null]}, "instances[0][7][3]: not a number: None"),
            ({"instances": [text]}, "instances[0][1][0]: not a number: '1.5'"),
            ({"instances": []}, "instances: must be a non-empty list"),
        ):
            bad = call(f"{url}/v1/models/mill-line:predict", body)
            assert bad.status == 400 and message in bad.body["error"], bad.body
        nan = windows[:1].copy()
        nan[0, 2, 1] = np.nan
        bad = call(
            f"{url}/v2/models/mill-line/infer",
            {
                "inputs": [
                    {
                        "name": "subcut",
                        "shape": [1, 64, 5],
                        "datatype": "FP64",
                        "data": [None if np.isnan(v) else v for v in nan.ravel().tolist()],
                    }
                ]
            },
        )
        assert bad.status == 400 and "inputs[0].data[0][2][1]: signal 'smcDC': NaN" in bad.body["error"], bad.body
        bad = call(
            f"{url}/v2/models/mill-line/infer",
            {"inputs": [{"name": "subcut", "shape": [1, 64, 4], "datatype": "FP32", "data": [0.0] * 256}]},
        )
        assert bad.status == 400 and "inputs[0].shape" in bad.body["error"]


def served_matches_pyfunc(url: str, name: str, model, windows: np.ndarray) -> None:
    """v1 (a batch and one sub-cut) and v2 answers of the server equal the loaded pyfunc's."""
    expected = model.predict(windows.astype(np.float32))
    assert list(expected.columns) == ["score", "anomaly"]
    meta = call(f"{url}/v2/models/{name}").body
    assert meta["inputs"] == [{"name": "subcut", "datatype": "FP32", "shape": [-1, 64, 5]}]
    assert [o["name"] for o in meta["outputs"]] == ["score", "anomaly"]
    v1 = call(f"{url}/v1/models/{name}:predict", {"instances": windows.tolist()})
    assert v1.status == 200, v1.body
    got = pd.DataFrame(v1.body["predictions"])
    assert np.allclose(got["score"], expected["score"], rtol=1e-5)
    assert got["anomaly"].tolist() == expected["anomaly"].tolist()
    one = call(f"{url}/v1/models/{name}:predict", {"instances": windows[0].tolist()})
    assert one.status == 200 and len(one.body["predictions"]) == 1
    v2 = call(
        f"{url}/v2/models/{name}/infer",
        {
            "inputs": [
                {"name": "subcut", "shape": list(windows.shape), "datatype": "FP32", "data": windows.ravel().tolist()}
            ]
        },
    )
    assert v2.status == 200, v2.body
    assert np.allclose(v2.body["outputs"][0]["data"], expected["score"], rtol=1e-5)
    assert v2.body["outputs"][1]["data"] == expected["anomaly"].tolist()


def test_a_served_beta_vae_answers_as_its_pyfunc(tmp_path, cuts, monkeypatch):
    """The other kind of detector: a beta-VAE in the same contract, registered and served."""
    from shopfloor.anomaly_detection.detector import MillingAnomalyDetector
    from shopfloor.anomaly_detection.pyfunc import MillingAnomalyPyfunc
    from shopfloor.anomaly_detection.vae import VAEConfig
    from shopfloor.registry import register_model, use_tracking

    home = tmp_path / "home"
    uri = f"sqlite:///{home / 'mlflow.db'}"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    sub = milling.subcuts(milling.load_table(pd.read_parquet(cuts)))
    classes = sub.meta["tool_class"].to_numpy().astype(int)
    config = VAEConfig(latent=4, filters=16, dilations=(1, 2), layers=1, epochs=3, patience=3)
    detector = MillingAnomalyDetector(config, seed=0).fit(sub.X, classes, sub.X, classes)
    use_tracking(uri)
    register_model(
        MillingAnomalyPyfunc(detector, tuple(sub.signal_names), 64),
        sub.X[:2].astype(np.float32),
        model_name="mill-vae",
        experiment="anomaly-detection",
        metrics={"test_ap": 0.5},
        params={},
        score_metric="test_ap",
    )
    model = mlflow.pyfunc.load_model("models:/mill-vae@champion")
    mlflow.set_tracking_uri(None)
    windows = sub.X[classes == 2][:5].astype(np.float64)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": uri}
    with local_server("mill-vae", extra=["--poll-seconds", "0"], env=env, log=tmp_path / "serve.log") as url:
        served_matches_pyfunc(url, "mill-vae", model, windows)


def test_the_simple_detector_is_registered_when_it_wins_on_validation(tmp_path):
    """Cuts where failed tools run one signal at three times its usual level: the RMS of that signal separates
    them perfectly on validation, so the pipeline registers it, not the VAE, and says so."""
    rng = np.random.default_rng(1)
    frames, labels = [], []
    for cut in range(36):
        tool_class = (0, 0, 1, 2)[cut % 4]
        x = rng.normal(0.0, 1.0, size=(640, 3))
        x[:, 2] *= 3.0 if tool_class == 2 else 1.0
        frames.append(pd.DataFrame(x, columns=["current", "vibration", "sound"]).assign(cut_no=cut))
        labels.append({"cut_no": cut, "case": cut // 4 + 1, "tool_class": tool_class})
    data, label_file = tmp_path / "cuts.parquet", tmp_path / "labels.csv"
    pd.concat(frames, ignore_index=True).to_parquet(data)
    pd.DataFrame(labels).to_csv(label_file, index=False)
    home, out = tmp_path / "home", tmp_path / "ad.json"
    result = shopfloor(
        "run",
        "anomaly-detection",
        "--data",
        str(data),
        "--cut-labels",
        str(label_file),
        "--model-name",
        "loud-line",
        "--split",
        "subcut",
        *FAST,
        "--json",
        str(out),
        home=home,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reg = json.loads(out.read_text())
    assert reg["detector"] == "rms" and "served: rms" in result.stdout
    table = pd.DataFrame(reg["comparison"]).set_index("detector")
    assert table.loc["rms", "valid_ap"] == pytest.approx(1.0)
    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    details = mlflow.pyfunc.load_model("models:/loud-line@champion").unwrap_python_model().details()
    mlflow.set_tracking_uri(None)
    assert (details["detector"], details["signal"], details["direction"]) == ("rms", "sound", "high")


def test_bad_milling_input_is_named_and_nothing_is_registered(tmp_path, cuts, capsys, monkeypatch):
    home = tmp_path / "home"
    no_struct = tmp_path / "other.mat"
    scipy.io.savemat(no_struct, {"signals": np.zeros((4, 4))})
    table = pd.read_parquet(cuts)
    renamed = tmp_path / "renamed.parquet"
    table.rename(columns={"cut_no": "cut"}).to_parquet(renamed)
    for args, message in (
        (["--data", str(no_struct)], "has no 'mill' struct (variables: signals)"),
        (["--data", str(renamed)], "cut_no: no cut column named 'cut_no'"),
        (
            ["--data", str(cuts), "--signals", "smcAC,smcDC,vib_table,vib_spindle,AE_table,AE_spindle"],
            "AE_spindle: no signal column 'AE_spindle'",
        ),
        (
            ["--data", str(cuts), "--window", "1024"],
            "its analysis window holds 480 samples, fewer than one window of 1024",
        ),
        (["--data", str(cuts), "--trials", "0"], "trials: must be at least 1"),
    ):
        code, _, err = run_cli(
            "run",
            "anomaly-detection",
            "--model-name",
            "mill-line",
            *FAST,
            *args,
            home=home,
            capsys=capsys,
            monkeypatch=monkeypatch,
        )
        assert code == 2, err[-2000:]
        assert message in err, err[-2000:]
        assert "Traceback" not in err
        nothing_registered(home)
