"""The KServe model server on a free port: answers equal to the MLflow pyfunc's, categories, thresholds,
bad requests, metrics, hot reload, schemathesis.

Each server fixture owns its registry: the numeric model (version 1, threshold 0.5) and the model with a
string column (version 1, threshold 0.3) are never re-registered, so every test here holds in any order;
the hot-reload test makes its own registry and server.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.serving_fixtures import (
    MODEL,
    call,
    metric_value,
    metrics_text,
    register_gearbox_model,
    rows_as_lists,
)

from loadtest.run import local_server

MAX_BATCH = 50
VARIANT_MODEL = "variant-classifier"


def _serve(tmp_path_factory, name: str, **register):
    home = tmp_path_factory.mktemp(f"serving-{name}")
    reg, model, rows = register_gearbox_model(home, f2=0.5, name=name, **register)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/1")
    mlflow.set_tracking_uri(None)
    return home, env, {"home": home, "model": model, "rows": rows, "env": env, "pyfunc": pyfunc, "name": name}


#: Every test of a served model runs against both inference paths: the direct path (the default) and
#: KServe's own FastAPI routes; the contract (answers, 4xx messages, metrics, headers) must not differ.
PATHS = {"direct": [], "kserve": ["--kserve-routes"]}


@pytest.fixture(scope="module", params=list(PATHS))
def served(tmp_path_factory, request):
    """A numeric gearbox classifier, version 1, threshold 0.5."""
    home, env, info = _serve(tmp_path_factory, MODEL)
    with local_server(
        MODEL,
        extra=["--max-batch", str(MAX_BATCH), "--poll-seconds", "0.5", *PATHS[request.param]],
        env=env,
        log=home / "server.log",
    ) as url:
        yield {**info, "url": url, "path": request.param}


@pytest.fixture(scope="module", params=list(PATHS))
def served_variant(tmp_path_factory, request):
    """A classifier that also takes the string column ``variant`` (A, B, C), version 1, threshold 0.3."""
    home, env, info = _serve(tmp_path_factory, VARIANT_MODEL, variant=True, threshold=0.3)
    with local_server(
        VARIANT_MODEL, extra=["--poll-seconds", "0", *PATHS[request.param]], env=env, log=home / "server.log"
    ) as url:
        yield {**info, "url": url, "path": request.param}


def v1(served, body):
    return call(f"{served['url']}/v1/models/{served['name']}:predict", body)


def v2(served, body):
    return call(f"{served['url']}/v2/models/{served['name']}/infer", body)


def _expected(served, rows: pd.DataFrame) -> pd.DataFrame:
    return served["pyfunc"].predict(rows)


def test_the_server_runs_on_uvloop(served):
    """KServe's single-process server would run on asyncio's pure-Python loop; uvloop is what uvicorn's "auto"
    promises and what the serving benchmarks measure."""
    assert "event loop: uvloop" in (served["home"] / "server.log").read_text()


def test_health_and_metadata(served, served_variant):
    assert call(f"{served['url']}/v2/health/live").status == 200
    assert call(f"{served['url']}/v2/health/ready").status == 200
    assert call(f"{served['url']}/v1/models/{MODEL}").body["ready"] is True
    meta = call(f"{served['url']}/v2/models/{MODEL}").body
    assert [i["name"] for i in meta["inputs"]] == list(served["rows"].columns)
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"} and meta["inputs"][0]["shape"] == [-1]
    assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [("class", "INT64"), ("fault_probability", "FP64")]
    variant = call(f"{served_variant['url']}/v2/models/{VARIANT_MODEL}").body
    assert variant["inputs"][-1] == {"name": "variant", "datatype": "BYTES", "shape": [-1]}


def test_v1_lists_and_objects_equal_the_pyfunc(served):
    rows = served["rows"].head(20)
    expected = _expected(served, rows)
    for body in ({"instances": rows_as_lists(rows)}, {"instances": rows.to_dict(orient="records")}):
        answer = v1(served, body)
        assert answer.status == 200, answer.body
        assert [p["fault_probability"] for p in answer.body["predictions"]] == expected["fault_probability"].tolist()
        assert [p["class"] for p in answer.body["predictions"]] == expected["class"].tolist()
        assert answer.headers["x-model-version"] == "1"


@pytest.mark.parametrize("datatype", ["FP32", "FP64"])
def test_v2_batches_equal_the_pyfunc(served, datatype):
    rows = served["rows"].head(32)
    cast = np.float32 if datatype == "FP32" else np.float64
    sent = rows.astype(cast)
    expected = _expected(served, sent.astype(np.float64))
    matrix = {
        "inputs": [
            {"name": "rows", "shape": [32, rows.shape[1]], "datatype": datatype, "data": sent.values.ravel().tolist()}
        ]
    }
    per_column = {
        "inputs": [{"name": c, "shape": [32], "datatype": datatype, "data": sent[c].tolist()} for c in rows.columns]
    }
    for body in (matrix, per_column):
        answer = v2(served, body)
        assert answer.status == 200, answer.body
        outputs = {o["name"]: o for o in answer.body["outputs"]}
        assert outputs["fault_probability"]["shape"] == [32] and outputs["class"]["datatype"] == "INT64"
        assert outputs["fault_probability"]["data"] == expected["fault_probability"].tolist()
        assert outputs["class"]["data"] == expected["class"].tolist()
        assert answer.body["model_version"] == "1"


def test_categorical_rows_are_answered_as_the_pyfunc_answers_them(served_variant):
    rows = served_variant["rows"].head(24).copy()
    rows.loc[rows.index[:3], "variant"] = ["Z", "Z", "new variant"]  # never seen in training: answered
    before = metric_value(
        metrics_text(served_variant["url"]),
        f'shopfloor_unknown_categories_total{{column="variant",model="{VARIANT_MODEL}"}}',
    )
    expected = _expected(served_variant, rows)
    answer = v1(served_variant, {"instances": rows.to_dict(orient="records")})
    assert answer.status == 200, answer.body
    assert [p["fault_probability"] for p in answer.body["predictions"]] == expected["fault_probability"].tolist()
    per_column = {
        "inputs": [
            {"name": c, "shape": [24], "datatype": "BYTES" if c == "variant" else "FP64", "data": rows[c].tolist()}
            for c in rows.columns
        ]
    }
    answer = v2(served_variant, per_column)
    assert answer.status == 200, answer.body
    assert answer.body["outputs"][1]["data"] == expected["fault_probability"].tolist()
    after = metric_value(
        metrics_text(served_variant["url"]),
        f'shopfloor_unknown_categories_total{{column="variant",model="{VARIANT_MODEL}"}}',
    )
    assert after - before == 6  # three unknown values, in two requests


def test_the_served_class_uses_the_registered_threshold(served_variant):
    rows = served_variant["rows"]
    answer = v1(served_variant, {"instances": rows.to_dict(orient="records")[:40]})
    probs = np.array([p["fault_probability"] for p in answer.body["predictions"]])
    classes = np.array([p["class"] for p in answer.body["predictions"]])
    assert served_variant["model"].threshold == 0.3
    assert np.array_equal(classes, (probs >= 0.3).astype(int))
    assert ((probs >= 0.3) & (probs < 0.5)).any()  # rows that a 0.5 threshold would call healthy


def _row(served):
    return rows_as_lists(served["rows"].head(1))[0]


def _record(served):
    return served["rows"].head(1).to_dict(orient="records")[0]


BAD_V1 = {
    "wrong value count": (lambda s: {"instances": [_row(s)[:-1]]}, "instances[0]: expected 66 values, got 65"),
    "unknown column": (lambda s: {"instances": [{**_record(s), "colour": 1.0}]}, "unknown column 'colour'"),
    "missing column": (lambda s: {"instances": [dict(list(_record(s).items())[:-1])]}, "missing 1 columns"),
    "non-numeric": (lambda s: {"instances": [["high", *_row(s)[1:]]]}, "instances[0][0]: not a number"),
    "boolean": (lambda s: {"instances": [[True, *_row(s)[1:]]]}, "instances[0][0]: not a number"),
    "empty batch": (lambda s: {"instances": []}, "instances: empty batch"),
    "batch over the limit": (
        lambda s: {"instances": [_row(s)] * (MAX_BATCH + 1)},
        f"batch of {MAX_BATCH + 1} rows exceeds the limit of {MAX_BATCH}",
    ),
    "no instances": (lambda s: {"rows": []}, 'JSON object with an "instances" list'),
}


@pytest.mark.parametrize("case", BAD_V1)
def test_bad_v1_requests_get_400_naming_the_problem(served, case):
    body, message = BAD_V1[case]
    answer = v1(served, body(served))
    assert answer.status == 400, answer.body
    assert message in answer.body["error"]
    assert v1(served, {"instances": [_row(served)]}).status == 200  # still serving


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: {**r, "variant": 3}, "instances[0].variant: expected a category (a string), got 3"),
        (lambda r: {**r, "variant": None}, "instances[0].variant: expected a category (a string), got None"),
        (lambda r: {k: v for k, v in r.items() if k != "variant"}, "missing 1 columns, first 'variant'"),
        (lambda r: {**r, "Variant": "A"}, "unknown column 'Variant'"),
    ],
)
def test_bad_categorical_requests_get_400_naming_the_column(served_variant, change, message):
    answer = v1(served_variant, {"instances": [change(_record(served_variant))]})
    assert answer.status == 400 and message in answer.body["error"], answer.body


@pytest.mark.parametrize(
    "raw, message",
    [
        (b'{"instances": [[1, 2', "Unrecognized request format"),
        (b'{"instances": [[NaN]]}', "Unrecognized request format"),  # JSON has no NaN: KServe's parser says so
    ],
)
def test_malformed_json_gets_400(served, raw, message):
    answer = call(f"{served['url']}/v1/models/{MODEL}:predict", raw=raw)
    assert answer.status == 400 and message in answer.body["error"]


@pytest.mark.parametrize(
    "tensor, message",
    [
        ({"name": "rows", "shape": [1, 66], "datatype": "BYTES", "data": ["1"] * 66}, "inputs[0].datatype: 'BYTES'"),
        (
            {"name": "rows", "shape": [1, 65], "datatype": "FP64", "data": [1.0] * 65},
            "inputs[0].shape: expected [n, 66]",
        ),
        ({"name": "rows", "shape": [2, 66], "datatype": "FP64", "data": [1.0] * 66}, "inputs[0].shape: shape [2, 66]"),
        ({"name": "rows", "shape": [0, 66], "datatype": "FP64", "data": []}, "empty batch"),
        ({"name": "speed", "shape": [1], "datatype": "FP64", "data": [1.0]}, "inputs[0].name: unknown column 'speed'"),
    ],
)
def test_bad_v2_requests_get_400(served, tensor, message):
    answer = v2(served, {"inputs": [tensor]})
    assert answer.status == 400, answer.body
    assert message in answer.body["error"]


def test_bad_v2_requests_for_string_columns_get_400(served_variant):
    rows = served_variant["rows"].head(1)
    tensors = [
        {"name": c, "shape": [1], "datatype": "BYTES" if c == "variant" else "FP64", "data": rows[c].tolist()}
        for c in rows.columns
    ]
    numeric_variant = [*tensors[:-1], {"name": "variant", "shape": [1], "datatype": "FP64", "data": [1.0]}]
    answer = v2(served_variant, {"inputs": numeric_variant})
    assert answer.status == 400 and "column 'variant' takes categories: send BYTES" in answer.body["error"]
    bytes_number = [{**tensors[0], "datatype": "BYTES", "data": ["12.5"]}, *tensors[1:]]
    answer = v2(served_variant, {"inputs": bytes_number})
    assert answer.status == 400 and "inputs[0].datatype: 'BYTES' is not supported" in answer.body["error"]
    matrix = {"inputs": [{"name": "rows", "shape": [1, 67], "datatype": "FP64", "data": [1.0] * 67}]}
    answer = v2(served_variant, matrix)
    assert answer.status == 400 and "this model takes string columns (variant)" in answer.body["error"]


def test_metrics_are_exposed(served):
    before = metrics_text(served["url"])
    v1(served, {"instances": [_row(served)] * 3})
    v2(served, {"inputs": [{"name": "rows", "shape": [1, 66], "datatype": "FP64", "data": _row(served)}]})
    v1(served, {"instances": []})
    text = metrics_text(served["url"])

    def delta(series: str) -> float:
        return metric_value(text, series) - metric_value(before, series)

    assert delta(f'shopfloor_request_latency_seconds_count{{model="{MODEL}",protocol="v1"}}') == 2
    assert delta(f'shopfloor_request_latency_seconds_count{{model="{MODEL}",protocol="v2"}}') == 1
    assert delta(f'shopfloor_rows_scored_total{{model="{MODEL}"}}') == 4
    predicted = sum(delta(f'shopfloor_predictions_total{{model="{MODEL}",output="class",value="{v}"}}') for v in "01")
    assert predicted == 4
    assert delta('shopfloor_rejected_requests_total{reason="empty_batch"}') == 1
    assert f'shopfloor_model_version_info{{alias="champion",model="{MODEL}",version="1"}} 1.0' in text


def test_hot_reload_under_load_has_no_failures(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    register_gearbox_model(home, f2=0.5)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    with local_server(MODEL, extra=["--poll-seconds", "0.5"], env=env, log=home / "server.log") as url:
        served = {"url": url, "name": MODEL}
        body = {"instances": [[1.0] * 66]}
        failures, versions, stop = [], set(), threading.Event()

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
            reg, _, _ = register_gearbox_model(home, f2=0.9, seed=5, class_weight="balanced")
            assert (reg.alias, reg.version) == ("champion", 2)
            deadline = time.monotonic() + 60
            while "2" not in versions and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)
        finally:
            stop.set()
            for w in workers:
                w.join()
        assert failures == []
        assert versions == {"1", "2"}
        assert 'version="2"} 1.0' in metrics_text(url)


def test_schemathesis_finds_no_server_error(served):
    """Fuzz every documented operation from the server's own OpenAPI document; no 5xx allowed."""
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{served['url']}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "100",
        "--phases",
        "examples,fuzzing",
        "--exclude-path-regex",
        "^/v2/repository|^/v1/models/[^/]+:explain|/generate",
        "--request-timeout",
        "10",
        "--seed",
        "1",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_version_addressed_requests(served):
    body = {"inputs": [{"name": "rows", "shape": [1, 66], "datatype": "FP64", "data": _row(served)}]}
    ok = call(f"{served['url']}/v2/models/{MODEL}/versions/1/infer", body)
    assert ok.status == 200 and ok.body["model_version"] == "1"
    assert call(f"{served['url']}/v2/models/{MODEL}/ready?model_version=1").status == 200
    missing = call(f"{served['url']}/v2/models/{MODEL}/versions/999/infer", body)
    assert missing.status == 404 and "'999' is not served here" in missing.body["error"]


def test_short_locust_run_meets_its_sla(served_variant, tmp_path, monkeypatch):
    """Locust's users send the variant model's string column as strings (v1) and BYTES (v2)."""
    from loadtest.run import run_locust

    data = tmp_path / "rows.csv"
    served_variant["rows"].to_csv(data, index=False)
    monkeypatch.setenv("SHOPFLOOR_LOADTEST_DATA", str(data))
    result = run_locust(
        served_variant["url"], tmp_path, users=4, rate=10, duration="10s", protocol="both", model=VARIANT_MODEL
    )
    assert result.requests > 100 and result.failures == 0, result.summary()
    assert result.passed, result.summary()
    assert (tmp_path / "report.html").stat().st_size > 1000
