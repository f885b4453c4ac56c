"""The model server keeps every answered row: request ids, the Parquet log after load and after SIGKILL,
feedback over REST, live quality on /metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest
from helpers.serving_fixtures import MODEL, call, metric_value, metrics_text, register_gearbox_model, rows_as_lists
from sklearn.metrics import fbeta_score

from loadtest.run import local_server, wait_ready
from shopfloor.monitoring.store import read_predictions
from shopfloor.platform.net import free_port

KEY = "part_id"


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    home = tmp_path_factory.mktemp("prediction-log")
    reg, model, rows = register_gearbox_model(home, f2=0.9)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    return {"home": home, "env": env, "rows": rows, "model": model}


def _logged(home) -> "object":
    return read_predictions(MODEL, root=home / "monitoring")


def _wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout} s")


def _post(url: str, body: dict, headers: dict | None = None):
    import json

    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read()), dict(answer.headers)


@pytest.mark.parametrize("path", [[], ["--kserve-routes"]], ids=["direct", "kserve"])
def test_request_ids_round_trip_and_the_log_holds_exactly_the_answered_rows(registered, path, tmp_path):
    home = tmp_path / "home"
    env = {**registered["env"], "SHOPFLOOR_MONITORING": str(home / "monitoring")}
    rows = rows_as_lists(registered["rows"].head(6))
    with local_server(
        MODEL, extra=["--poll-seconds", "0", "--quality-seconds", "0", "--key-column", KEY, *path], env=env
    ) as url:
        v1 = f"{url}/v1/models/{MODEL}:predict"
        body, headers = _post(v1, {"instances": rows[:2]}, {"x-request-id": "client-1"})
        assert body["request_id"] == "client-1" and headers["x-request-id"] == "client-1"
        body, headers = _post(v1, {"instances": rows[2:3]})  # no id: one is made and returned
        made = headers["x-request-id"]
        assert len(made) == 32 and body["request_id"] == made
        columns = list(registered["rows"].columns)
        v2 = {
            "id": "client-2",
            "inputs": [
                {"name": c, "shape": [1], "datatype": "FP64", "data": [rows[3][j]]} for j, c in enumerate(columns)
            ]
            + [{"name": KEY, "shape": [1], "datatype": "BYTES", "data": ["P-42"]}],
        }
        body, headers = _post(f"{url}/v2/models/{MODEL}/infer", v2)
        assert body["id"] == "client-2" and headers["x-request-id"] == "client-2"
        keyed = [dict(zip(columns, row, strict=True)) | {KEY: f"P-{i}"} for i, row in enumerate(rows[4:6])]
        _post(v1, {"instances": keyed}, {"x-request-id": "client-3"})
        assert call(v1, {"instances": [[1.0]]}).status == 400  # refused: never logged
        _wait_for(lambda: len(_logged(home)) == 6, what="6 logged rows")
    logged = _logged(home)
    assert len(logged) == 6  # exactly the answered rows, after a clean stop too
    assert logged.groupby("request_id").size().to_dict() == {"client-1": 2, made: 1, "client-2": 1, "client-3": 2}
    assert logged.set_index(["request_id", "row"]).loc[("client-3", 1), "key"] == "P-1"
    assert logged.set_index("request_id").loc["client-2", "key"] == "P-42"
    first = logged[logged.request_id == "client-1"].sort_values("row")
    assert first[[f"input.{c}" for c in columns]].values.tolist() == rows[:2]


def test_every_answer_acknowledged_a_flush_interval_before_a_sigkill_is_on_disk(registered, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, **registered["env"], "SHOPFLOOR_MONITORING": str(home / "monitoring")}
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopfloor_cli.main",
            "serve",
            "--model-name",
            MODEL,
            "--port",
            str(port),
            "--poll-seconds",
            "0",
            "--quality-seconds",
            "0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, MODEL, proc=proc)
        rows = rows_as_lists(registered["rows"])
        for i in range(200):
            assert call(f"{url}/v1/models/{MODEL}:predict", {"instances": [rows[i % len(rows)]]}).status == 200
        acknowledged = time.monotonic()
        _wait_for(lambda: len(_logged(home)) >= 200, timeout=10, what="200 rows on disk")
        assert time.monotonic() - acknowledged < 3.0  # the flush interval (1 s) plus a write
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    logged = _logged(home)
    assert len(logged) == 200 and logged.request_id.nunique() == 200


def test_feedback_over_rest_drives_the_live_gauge(registered, tmp_path):
    home = tmp_path / "home"
    env = {**registered["env"], "SHOPFLOOR_MONITORING": str(home / "monitoring")}
    table = registered["rows"].head(40)
    rows = rows_as_lists(table)
    with local_server(MODEL, extra=["--poll-seconds", "0", "--quality-seconds", "0.3"], env=env) as url:
        ids, answered = [], []
        for i, row in enumerate(rows):
            body, _ = _post(f"{url}/v1/models/{MODEL}:predict", {"instances": [row]}, {"x-request-id": f"q{i}"})
            ids.append(body["request_id"])
            answered.append(body["predictions"][0]["class"])
        truth = [1 if i % 3 == 0 else 0 for i in range(len(rows))]  # outcomes the model cannot know
        feedback = f"{url}/v1/models/{MODEL}/feedback"
        outcomes = [{"request_id": r, "label": y} for r, y in zip(ids, truth, strict=True)]
        bad = call(feedback, {"outcomes": [{"request_id": "q0", "label": "maybe"}]})
        assert bad.status == 400 and "row 1, column 'label'" in bad.body["errors"][0]
        stored = call(feedback, {"outcomes": [*outcomes, {"request_id": "q1", "label": [1]}]})
        assert stored.status == 200 and stored.body["stored"] == 40 and stored.body["rejected"] == 1
        assert call(feedback, {"rows": []}).status == 400
        expected = fbeta_score(truth, answered, beta=2, zero_division=0)
        series = f'shopfloor_live_quality{{metric="f2",model="{MODEL}",version="1"}}'

        def gauge():
            text = metrics_text(url)
            return (
                text
                if metric_value(text, f'shopfloor_live_labelled_rows{{model="{MODEL}",version="1"}}') == 40
                else None
            )

        text = _wait_for(gauge, what="40 labelled rows on /metrics")
        assert metric_value(text, series) == pytest.approx(expected)
        assert metric_value(text, f'shopfloor_registered_quality{{metric="f2",model="{MODEL}",version="1"}}') == 0.9
        assert metric_value(text, f'shopfloor_prediction_log_rows_total{{model="{MODEL}",outcome="written"}}') == 40
        # what `shopfloor schedule retraining --when 'live_f2 < ...'` reads
        from shopfloor_cli.scheduler import served_quality

        assert served_quality(url, MODEL, "f2", min_labelled=40) == (pytest.approx(expected), 40)
        assert served_quality(url, MODEL, "f2", min_labelled=41) is None  # too few outcomes to believe


def _cloud_event(url: str, kind: str, event_id: str, body: bytes) -> int:
    """POST one event in CloudEvents' HTTP binary mode, with the attributes KServe's logger agent sets."""
    headers = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": f"org.kubeflow.serving.inference.{kind}",
        "ce-source": "http://localhost:9081/",
        "ce-time": "2026-11-27T08:00:00Z",
        "ce-inferenceservicename": MODEL,
        "ce-namespace": "kubeflow-user-example-com",
        "ce-component": "predictor",
        "ce-endpoint": "",
        "ce-metadata": "{}",
    }
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code


def test_the_sink_writes_what_kserves_logger_sends_as_the_server_logs_it(registered, tmp_path):
    """Requests and responses of a real server, sent to the sink as KServe's agent sends them (response before
    request for one pair), give the same log rows as the server's own log."""
    import json
    import threading

    import uvicorn

    from serving.sink import PredictionSink
    from shopfloor.monitoring.prediction_log import PredictionLog

    served_home = tmp_path / "served"
    env = {**registered["env"], "SHOPFLOOR_MONITORING": str(served_home)}
    rows = rows_as_lists(registered["rows"].head(5))
    columns = list(registered["rows"].columns)
    exchanges = []
    with local_server(MODEL, extra=["--poll-seconds", "0", "--quality-seconds", "0"], env=env) as url:
        for i in range(3):
            body = {"instances": rows[i : i + 2]}
            answer, _ = _post(f"{url}/v1/models/{MODEL}:predict", body, {"x-request-id": f"v1-{i}"})
            exchanges.append((f"v1-{i}", body, answer))
        v2 = {
            "id": "v2-0",
            "inputs": [
                {"name": c, "shape": [1], "datatype": "FP64", "data": [rows[4][j]]} for j, c in enumerate(columns)
            ],
        }
        answer, _ = _post(f"{url}/v2/models/{MODEL}/infer", v2)
        exchanges.append(("v2-0", v2, answer))
    served = read_predictions(MODEL, root=served_home)

    sink_home = tmp_path / "sink"
    import os

    os.environ["MLFLOW_TRACKING_URI"] = registered["env"]["MLFLOW_TRACKING_URI"]
    sink = PredictionSink(PredictionLog(root=sink_home, flush_seconds=60))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(sink, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started, what="sink started")
        sink_url = f"http://127.0.0.1:{port}/"
        for n, (event_id, request, response) in enumerate(exchanges):
            halves = [("request", json.dumps(request).encode()), ("response", json.dumps(response).encode())]
            first, second = halves[::-1] if n == 1 else halves  # the agent does not promise an order
            assert _cloud_event(sink_url, *first[:1], f"agent-{event_id}", first[1]) == 202
            assert _cloud_event(sink_url, *second[:1], f"agent-{event_id}", second[1]) == 200
        assert _cloud_event(sink_url, "request", "", b"{}") == 400  # not a logger event: named, refused
        assert sink.stats["logged_requests"] == 4
    finally:
        server.should_exit = True
        thread.join(10)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    sink.log.close()
    logged = read_predictions(MODEL, root=sink_home)
    key = ["request_id", "row"]
    compared = [c for c in served.columns if c not in ("time", "key")]
    left = served.sort_values(key).reset_index(drop=True)[compared]
    right = logged.sort_values(key).reset_index(drop=True)[compared]
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    assert len(logged) == 7


def test_a_key_named_at_training_is_logged_and_outcomes_join_by_it(tmp_path, monkeypatch):
    """``run fault-detection --key-column part_id`` keeps the part id out of the features and names it in the
    model: the server takes it from each instance without being told, logs it, and ``shopfloor feedback``
    matches a file of outcomes by it."""
    from helpers.serving_fixtures import register_in

    from shopfloor.data import ingest as ing
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.errors import DataError
    from shopfloor.fault_detection.train import reference_classifier
    from shopfloor.fault_detection.workflow import ingest_step
    from shopfloor.monitoring.outcomes import joined
    from shopfloor_cli.main import main

    table = simulate_gearbox(rows=400, seed=3)
    table.insert(0, KEY, [f"P-{i:04d}" for i in range(len(table))])
    data = tmp_path / "line.csv"
    table.to_csv(data, index=False)
    out = {k: str(tmp_path / k) for k in ("train", "valid", "test", "prep")}
    ingest_step(
        str(data),
        "faulty",
        train=out["train"],
        valid=out["valid"],
        test=out["test"],
        preprocessing=out["prep"],
        key_column=KEY,
    )
    prep = ing.Preprocessing.load(out["prep"])
    assert prep.key_column == KEY and KEY not in prep.schema.names  # passed through, never a feature
    with pytest.raises(DataError) as caught:
        ingest_step(
            str(data),
            "faulty",
            train=out["train"],
            valid=out["valid"],
            test=out["test"],
            preprocessing=out["prep"],
            key_column="serial",
        )
    assert caught.value.field == "key-column"

    home = tmp_path / "home"
    home.mkdir()
    model, splits = reference_classifier(table.drop(columns=KEY), "faulty", 0, None)
    model.key_column = KEY
    register_in(home, model, splits.train.drop(columns=[ing.LABEL]).head(5), 0.5)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    sent = table.head(30)
    with local_server(MODEL, extra=["--poll-seconds", "0"], env=env) as url:
        body, _ = _post(
            f"{url}/v1/models/{MODEL}:predict", {"instances": sent.drop(columns="faulty").to_dict("records")}
        )
        assert len(body["predictions"]) == 30
    _wait_for(lambda: len(_logged(home)) == 30, what="30 logged rows")
    logged = _logged(home)
    assert logged["key"].tolist() == sent[KEY].tolist()
    outcomes = tmp_path / "outcomes.csv"
    sent[[KEY, "faulty"]].rename(columns={"faulty": "label"}).to_csv(outcomes, index=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["feedback", "--model-name", MODEL, "--file", str(outcomes)]) == 0  # no --key-column given
    matched = joined(MODEL, root=home / "monitoring")
    assert len(matched) == 30 and matched.set_index("key")["label"].to_dict() == dict(
        zip(sent[KEY], sent["faulty"].astype(float), strict=True)
    )
