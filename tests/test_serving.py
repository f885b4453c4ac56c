"""The KServe model server on a free port: predictions, bad requests, metrics, hot reload, schemathesis."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import mlflow
import numpy as np
import pytest
from serving_fixtures import MODEL, call, register_gearbox_model, rows_as_lists

from loadtest.run import local_server

MAX_BATCH = 50


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("serving-home")
    reg, model, rows = register_gearbox_model(home, f2=0.5)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    with local_server(MODEL, extra=["--max-batch", str(MAX_BATCH), "--poll-seconds", "0.5"], env=env,
                      log=home / "server.log") as url:
        yield {"url": url, "home": home, "model": model, "rows": rows, "env": env}


def v1(served, body):
    return call(f"{served['url']}/v1/models/{MODEL}:predict", body)


def v2(served, body):
    return call(f"{served['url']}/v2/models/{MODEL}/infer", body)


def test_health_and_metadata(served):
    assert call(f"{served['url']}/v2/health/live").status == 200
    assert call(f"{served['url']}/v2/health/ready").status == 200
    assert call(f"{served['url']}/v1/models/{MODEL}").body["ready"] is True
    meta = call(f"{served['url']}/v2/models/{MODEL}").body
    assert [i["name"] for i in meta["inputs"]] == list(served["rows"].columns)
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"} and meta["inputs"][0]["shape"] == [-1]
    assert {o["name"] for o in meta["outputs"]} == {"class", "fault_probability"}


def test_v1_lists_and_objects_equal_the_mlflow_model(served):
    rows = served["rows"].head(20)
    expected = served["model"].predict_proba(rows)[:, 1]
    for body in ({"instances": rows_as_lists(rows)}, {"instances": rows.to_dict(orient="records")}):
        answer = v1(served, body)
        assert answer.status == 200, answer.body
        probs = [p["fault_probability"] for p in answer.body["predictions"]]
        assert np.allclose(probs, expected, atol=1e-9)
        assert [p["class"] for p in answer.body["predictions"]] == list((expected >= 0.5).astype(int))
        assert answer.headers["x-model-version"] == "1"


@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_v2_batches_equal_the_mlflow_model(served, datatype):
    rows = served["rows"].head(32)
    cast = np.float32 if datatype == "FP32" else np.float64
    expected = served["model"].predict_proba(rows.astype(cast).astype(float))[:, 1]
    matrix = {"inputs": [{"name": "features", "shape": [32, rows.shape[1]], "datatype": datatype,
                          "data": rows.astype(cast).values.ravel().tolist()}]}
    per_feature = {"inputs": [{"name": c, "shape": [32], "datatype": datatype, "data": rows[c].astype(cast).tolist()}
                              for c in rows.columns]}
    for body in (matrix, per_feature):
        answer = v2(served, body)
        assert answer.status == 200, answer.body
        outputs = {o["name"]: o for o in answer.body["outputs"]}
        assert outputs["fault_probability"]["shape"] == [32] and outputs["class"]["datatype"] == "INT64"
        assert np.allclose(outputs["fault_probability"]["data"], expected, atol=1e-6)
        assert answer.body["model_version"] == "1"


def _row(served):
    return rows_as_lists(served["rows"].head(1))[0]


BAD = {
    "wrong feature count": (lambda s: {"instances": [_row(s)[:-1]]}, "instances[0]: expected 66 values, got 65"),
    "unknown feature": (lambda s: {"instances": [{**dict(zip(s["rows"].columns, _row(s), strict=True)),
                                                  "colour": 1.0}]}, "unknown feature 'colour'"),
    "missing feature": (lambda s: {"instances": [dict(list(zip(s["rows"].columns, _row(s), strict=True))[:-1])]},
                        "missing 1 features"),
    "non-numeric": (lambda s: {"instances": [["high", *_row(s)[1:]]]}, "instances[0][0]: not a number"),
    "boolean": (lambda s: {"instances": [[True, *_row(s)[1:]]]}, "instances[0][0]: not a number"),
    "empty batch": (lambda s: {"instances": []}, "instances: empty batch"),
    "batch over the limit": (lambda s: {"instances": [_row(s)] * (MAX_BATCH + 1)},
                             f"batch of {MAX_BATCH + 1} rows exceeds the limit of {MAX_BATCH}"),
    "no instances": (lambda s: {"rows": []}, 'JSON object with an "instances" list'),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_v1_requests_get_400_naming_the_problem(served, case):
    body, message = BAD[case]
    answer = v1(served, body(served))
    assert answer.status == 400, answer.body
    assert message in answer.body["error"]
    assert v1(served, {"instances": [_row(served)]}).status == 200  # still serving


@pytest.mark.parametrize("raw, message", [
    (b'{"instances": [[1, 2', "Unrecognized request format"),
    (b'{"instances": [[NaN]]}', "Unrecognized request format"),  # JSON has no NaN: rejected by the parser
])
def test_malformed_json_gets_400(served, raw, message):
    answer = call(f"{served['url']}/v1/models/{MODEL}:predict", raw=raw)
    assert answer.status == 400 and message in answer.body["error"]


@pytest.mark.parametrize("tensor, message", [
    ({"name": "features", "shape": [1, 66], "datatype": "INT8", "data": [1] * 66}, "inputs[0].datatype: 'INT8'"),
    ({"name": "features", "shape": [1, 65], "datatype": "FP64", "data": [1.0] * 65},
     "inputs[0].shape: expected [n, 66]"),
    ({"name": "features", "shape": [2, 66], "datatype": "FP64", "data": [1.0] * 66}, "inputs[0].shape: shape [2, 66]"),
    ({"name": "features", "shape": [0, 66], "datatype": "FP64", "data": []}, "empty batch"),
    ({"name": "speed", "shape": [1], "datatype": "FP64", "data": [1.0]}, "unknown feature 'speed'"),
])
def test_bad_v2_requests_get_400(served, tensor, message):
    answer = v2(served, {"inputs": [tensor]})
    assert answer.status == 400, answer.body
    assert message in answer.body["error"]


def test_nan_and_inf_in_v2_tensors_are_rejected(served):
    data = _row(served)
    for bad in (float("nan"), float("inf")):
        body = {"inputs": [{"name": "features", "shape": [1, 66], "datatype": "FP64", "data": [bad, *data[1:]]}]}
        # Python's json writes NaN/Infinity tokens; the server must answer 4xx whichever layer rejects them
        answer = call(f"{served['url']}/v2/models/{MODEL}/infer", raw=json.dumps(body).encode())
        assert 400 <= answer.status < 500


def test_metrics_are_exposed(served):
    v1(served, {"instances": [_row(served)] * 3})
    v2(served, {"inputs": [{"name": "features", "shape": [1, 66], "datatype": "FP64", "data": _row(served)}]})
    v1(served, {"instances": []})
    text = _metrics(served)
    assert 'shopfloor_request_latency_seconds_count{protocol="v1"}' in text
    assert 'shopfloor_request_latency_seconds_count{protocol="v2"}' in text
    assert _value(text, 'shopfloor_rows_scored_total{model="gearbox-fault-classifier"}') >= 4
    assert 'shopfloor_predictions_total{model="gearbox-fault-classifier",predicted_class="0"}' in text
    assert _value(text, 'shopfloor_rejected_requests_total{reason="empty_batch"}') >= 1
    assert 'shopfloor_model_version_info{alias="champion",model="gearbox-fault-classifier",version=' in text


def _metrics(served) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{served['url']}/metrics") as answer:
        return answer.read().decode()


def _value(text: str, series: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(series + " "))
    return float(line.rsplit(" ", 1)[1])


def test_hot_reload_under_load_has_no_failures(served):
    failures, versions, stop = [], set(), threading.Event()
    body = {"instances": [_row(served)]}

    def hammer():
        while not stop.is_set():
            answer = v1(served, body)
            if answer.status != 200:
                failures.append(answer)
            else:
                versions.add(answer.headers["x-model-version"])

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        time.sleep(1.0)
        reg, _, _ = register_gearbox_model(served["home"], f2=0.9, seed=5, class_weight="balanced")
        assert reg.alias == "champion" and reg.version >= 2
        deadline = time.monotonic() + 60
        while str(reg.version) not in versions and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        for w in workers:
            w.join()
        mlflow.set_tracking_uri(None)
    assert failures == []
    assert {"1", str(reg.version)} <= versions
    assert call(f"{served['url']}/v2/models/{MODEL}").status == 200
    assert f'version="{reg.version}"' in _metrics(served)


def test_schemathesis_finds_no_server_error(served, tmp_path):
    """Fuzz every documented operation from the server's own OpenAPI document; no 5xx allowed."""
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{served['url']}/openapi.json",
           "--checks", "not_a_server_error", "--max-examples", "25", "--phases", "examples,fuzzing",
           "--exclude-path-regex", "^/v2/repository|^/v1/models/[^/]+:explain|/generate",
           "--request-timeout", "10", "--seed", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_version_addressed_requests(served):
    body = {"inputs": [{"name": "features", "shape": [1, 66], "datatype": "FP64", "data": _row(served)}]}
    served_version = call(f"{served['url']}/v1/models/{MODEL}:predict", {"instances": [_row(served)]}).headers[
        "x-model-version"]
    ok = call(f"{served['url']}/v2/models/{MODEL}/versions/{served_version}/infer", body)
    assert ok.status == 200 and ok.body["model_version"] == served_version
    assert call(f"{served['url']}/v2/models/{MODEL}/ready?model_version={served_version}").status == 200
    missing = call(f"{served['url']}/v2/models/{MODEL}/versions/999/infer", body)
    assert missing.status == 404 and "'999' is not served here" in missing.body["error"]


def test_short_locust_run_meets_its_sla(served, tmp_path):
    from loadtest.run import run_locust

    result = run_locust(served["url"], tmp_path, users=4, rate=10, duration="6s", protocol="both")
    assert result.requests > 100, result.summary()
    assert result.passed, result.summary()
    assert (tmp_path / "report.html").stat().st_size > 1000


def test_linear_fast_path_matches_scikit_learn(served):
    from shopfloor.inference import linear_fast_path

    fast = linear_fast_path(served["model"])
    assert fast is not None
    rows = served["rows"].astype(float).values
    assert np.allclose(fast(rows), served["model"].predict_proba(served["rows"]), atol=1e-12)
    assert linear_fast_path(object()) is None
