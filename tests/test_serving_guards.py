"""The model server's guards and monitors on a real server: 413 for a body over the limit before it is
parsed, a half-sent request that neither blocks other clients nor stays forever (408), and the online drift
gauge of served rows against the training rows logged with the model."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest
from helpers.serving_fixtures import (
    MODEL,
    call,
    metric_value,
    metrics_text,
    raw_exchange,
    register_gearbox_model,
    rows_as_lists,
)

from loadtest.run import local_server
from shopfloor_cli import scheduler

LIMIT = 200_000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("guards")
    reference = home / "train.parquet"
    reg, model, rows = register_gearbox_model(home, f2=0.5, reference=reference)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    with local_server(
        MODEL,
        extra=["--poll-seconds", "0", "--max-body-bytes", str(LIMIT), "--body-timeout", "2"],
        env=env,
        log=home / "server.log",
    ) as url:
        yield {"url": url, "rows": rows}


def test_a_body_over_the_limit_gets_413_before_it_is_parsed(served):
    before = metric_value(metrics_text(served["url"]), 'shopfloor_rejected_requests_total{reason="body_too_large"}')
    path = f"/v1/models/{MODEL}:predict"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {LIMIT + 1}\r\n\r\n"
    ).encode()
    status, data = raw_exchange(served["url"], head)  # not one byte of the body sent: refused on the header alone
    assert status == 413 and b"exceeds the limit of 200000 bytes" in data
    chunked = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"x" * 80_000
    body = b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
    status, data = raw_exchange(served["url"], chunked, body)  # no length given: refused once the limit is passed
    assert status == 413
    status, _ = raw_exchange(served["url"], chunked.replace(b":predict", b":explain"), body)  # KServe's routes too
    assert status == 413
    after = metric_value(metrics_text(served["url"]), 'shopfloor_rejected_requests_total{reason="body_too_large"}')
    assert after - before == 3
    assert (
        call(f"{served['url']}/v1/models/{MODEL}:predict", {"instances": rows_as_lists(served["rows"].head(1))}).status
        == 200
    )


def test_a_half_sent_request_does_not_block_other_clients(served):
    host, port = served["url"].removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)), timeout=10)
    try:
        slow.sendall(
            (
                f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 5000\r\n\r\n{"instances": [['
            ).encode()
        )
        row = {"instances": rows_as_lists(served["rows"].head(1))}
        started = time.monotonic()
        for _ in range(20):  # others are answered while the slow body waits
            assert call(f"{served['url']}/v1/models/{MODEL}:predict", row).status == 200
        assert time.monotonic() - started < 5
        slow.settimeout(10)
        data = slow.recv(4096)  # the stalled body is given up after --body-timeout (2 s)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
    finally:
        slow.close()


def _send(url: str, frame) -> None:
    for start in range(0, len(frame), 100):
        part = {"instances": rows_as_lists(frame.iloc[start : start + 100])}
        assert call(f"{url}/v1/models/{MODEL}:predict", part).status == 200


def test_online_drift_gauge_follows_the_served_rows(served):
    from shopfloor.data.simulate import simulate_gearbox

    rows = served["rows"]
    url = served["url"]
    _send(url, simulate_gearbox(rows=1500, seed=7)[list(rows.columns)])  # new rows of the same process
    column = rows.columns[3]
    text = metrics_text(url)
    series = f'shopfloor_feature_psi{{feature="{column}",model="{MODEL}"}}'
    steady = metric_value(text, series)
    assert series in text and steady < 0.1  # rows like the training rows: stable
    shifted = simulate_gearbox(rows=2000, seed=8)[list(rows.columns)]
    shifted[column] = shifted[column] + 3 * rows[column].std()
    _send(url, shifted)
    text = metrics_text(url)
    assert metric_value(text, series) > 0.25  # the shifted feature drifted
    other = f'shopfloor_feature_psi{{feature="{rows.columns[10]}",model="{MODEL}"}}'
    assert metric_value(text, other) < 0.1  # the others did not
    assert metric_value(text, f'shopfloor_drift_window_rows{{model="{MODEL}"}}') == 2000
    assert np.isfinite(metric_value(text, other))
    # what the local scheduler's --watch-server reads
    assert set(scheduler.served_drift(url, MODEL, 0.25)) == {column}
    assert scheduler.served_drift(url, "another-model", 0.25) == {}
    assert scheduler.served_drift("http://127.0.0.1:9", MODEL, 0.25, timeout=1) is None


def test_every_metric_of_the_dashboard_and_alert_rules_is_exported(served, tmp_path):
    """The model servers' rules read what the server exports; the pipelines' rules what a run's outcome
    record writes."""
    from serving.observability import alert_rules, dashboard, metric_names
    from shopfloor.platform.run_outcomes import record_outcome

    call(f"{served['url']}/v2/models/{MODEL}/infer", {"inputs": []})  # one 4xx, so the rejection series exist
    _send(served["url"], served["rows"].head(20))
    exported = metric_names(metrics_text(served["url"]))
    groups = {g["name"]: g for g in alert_rules()["groups"]}
    record_outcome("retraining", "SUCCEEDED", directory=tmp_path)
    written = metric_names((tmp_path / "shopfloor_pipeline_retraining.prom").read_text())
    assert metric_names(json.dumps(groups["shopfloor-pipelines"])) <= written
    wanted = metric_names(json.dumps(dashboard())) | metric_names(json.dumps(groups["shopfloor-model-servers"]))
    assert len(wanted) >= 9
    assert wanted <= exported, sorted(wanted - exported)


def test_request_ids_are_unique_and_a_forked_worker_draws_its_own_prefix():
    import os

    from serving.model import new_request_id

    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(i) == 32 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker forked from a server that already answered
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    assert child[:16] != ids[0][:16] and len(child) == 32
