"""The inference routes answered inside the HTTP protocol (``serving.protocol``), on a real server: requests that
arrive together are answered together, each with its own answer and request id; what the direct path hands on to
ASGI (a pipelined request, a body sent in parts) and HTTP/1.0 are answered as before."""

from __future__ import annotations

import json
import re
import socket
import time

import mlflow
import pytest
from helpers.serving_fixtures import MODEL, metrics_text, read_responses, register_gearbox_model, rows_as_lists

from loadtest.run import local_server

PATH = f"/v1/models/{MODEL}:predict"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("direct")
    _, _, rows = register_gearbox_model(home, f2=0.5)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    expected = mlflow.pyfunc.load_model(f"models:/{MODEL}/1").predict(rows.head(8))["fault_probability"].tolist()
    mlflow.set_tracking_uri(None)
    with local_server(MODEL, extra=["--poll-seconds", "0"], env=env, log=home / "server.log") as url:
        host, port = url.removeprefix("http://").split(":")
        yield {
            "url": url,
            "address": (host, int(port)),
            "rows": rows_as_lists(rows.head(8)),
            "expected": expected,
            "env": env,
            "home": home,
        }


def _request(row: list, version: bytes = b"1.1", request_id: str | None = None) -> bytes:
    body = json.dumps({"instances": [row]}).encode()
    extra = f"x-request-id: {request_id}\r\n".encode() if request_id else b""
    return (
        b"POST " + PATH.encode() + b" HTTP/" + version + b"\r\nhost: test\r\ncontent-type: application/json\r\n"
        + extra + f"content-length: {len(body)}\r\n\r\n".encode() + body
    )  # fmt: skip


def _answered_together(url: str) -> tuple[float, float, float]:
    """(turns counted, turns of one request, rows scored) of the server's metrics."""
    text = metrics_text(url)
    count = re.search(rf'shopfloor_requests_answered_together_count{{model="{MODEL}"}} (\S+)', text)
    alone = re.search(rf'shopfloor_requests_answered_together_bucket{{le="1.0",model="{MODEL}"}} (\S+)', text)
    rows = re.search(rf'shopfloor_rows_scored_total{{model="{MODEL}"}} (\S+)', text)
    return tuple(float(m.group(1)) if m else 0.0 for m in (count, alone, rows))  # type: ignore[return-value]


def test_requests_that_arrive_together_are_answered_together_each_with_its_own_answer(served):
    """Eight clients send at once, each before any reads; the server's answered-together histogram must record a
    turn with more than one of them (tried until it does), every client gets its own row's answer, under its own
    request id, and every row is counted once in the rows-scored metric."""
    rows, expected = served["rows"], served["expected"]
    for attempt in range(50):
        calls, lone, scored = _answered_together(served["url"])
        sockets = [socket.create_connection(served["address"], timeout=10) for _ in rows]
        try:
            for i, (sock, row) in enumerate(zip(sockets, rows, strict=True)):
                sock.sendall(_request(row, request_id=f"client-{attempt}-{i}"))
            answers = [read_responses(sock, 1)[0] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        for i, (status, headers, body) in enumerate(answers):
            assert status == 200, body
            assert body["predictions"][0]["fault_probability"] == pytest.approx(expected[i], rel=1e-12)
            assert headers["x-request-id"] == body["request_id"] == f"client-{attempt}-{i}"
        now_calls, now_lone, now_scored = _answered_together(served["url"])
        assert now_calls - calls <= len(rows)  # one observation per turn, never more than the requests
        assert now_scored - scored == len(rows)  # each row counted once, whether scored alone or together
        if (now_lone - lone) < (now_calls - calls):
            return
    pytest.fail("eight requests sent at once were never answered in one turn of the event loop")


def test_pipelined_requests_are_answered_in_order(served):
    rows, expected = served["rows"], served["expected"]
    with socket.create_connection(served["address"], timeout=10) as sock:
        sock.sendall(_request(rows[0]) + _request(rows[1]) + _request(rows[2]))
        answers = read_responses(sock, 3)
    assert [a[0] for a in answers] == [200, 200, 200]
    got = [a[2]["predictions"][0]["fault_probability"] for a in answers]
    assert got == pytest.approx(expected[:3], rel=1e-12)


def test_http_1_0_is_answered_and_its_connection_closed(served):
    with socket.create_connection(served["address"], timeout=10) as sock:
        sock.sendall(_request(served["rows"][0], version=b"1.0"))
        ((status, headers, body),) = read_responses(sock, 1)
        assert sock.recv(1) == b""  # closed by the server after its answer
    assert status == 200 and headers["connection"] == "close"
    assert body["predictions"][0]["fault_probability"] == pytest.approx(served["expected"][0], rel=1e-12)


def test_a_body_sent_in_two_parts_is_answered(served):
    """The first part arrives without the rest: the request goes on to the ASGI path, which reads the rest."""
    whole = _request(served["rows"][3])
    with socket.create_connection(served["address"], timeout=10) as sock:
        sock.sendall(whole[:-20])
        time.sleep(0.2)  # the client pausing mid-body is the case under test
        sock.sendall(whole[-20:])
        ((status, _, body),) = read_responses(sock, 1)
    assert status == 200
    assert body["predictions"][0]["fault_probability"] == pytest.approx(served["expected"][3], rel=1e-12)


def test_every_worker_of_a_two_worker_server_answers_on_the_direct_path(served, tmp_path):
    """KServe spawns the workers; each builds its own app and must set up its own direct path. A scrape of
    ``/metrics`` reads the worker that answers it: every one-row request that worker answered went the direct way."""
    home = tmp_path
    register_gearbox_model(home, f2=0.5)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    with local_server(MODEL, workers=2, extra=["--poll-seconds", "0"], env=env, log=home / "server.log") as url:
        body = json.dumps({"instances": [served["rows"][0]]}).encode()
        answered = 0
        deadline = time.monotonic() + 60
        while answered < 20 and time.monotonic() < deadline:  # a spawned worker may still be loading the model
            status, _, _ = _post(url, body)
            answered += status == 200
        assert answered == 20
        workers = set()
        for _ in range(10):
            text = metrics_text(url)
            together = re.search(rf'shopfloor_requests_answered_together_sum{{model="{MODEL}"}} (\S+)', text)
            ok = re.search(rf'shopfloor_responses_total{{model="{MODEL}",protocol="v1",status="2xx"}} (\S+)', text)
            if ok:
                assert together and float(together.group(1)) == float(ok.group(1))
                workers.add(re.search(r"process_start_time_seconds (\S+)", text).group(1))
        assert workers


def _post(url: str, body: bytes) -> tuple[int, dict, dict]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {PATH} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        return read_responses(sock, 1)[0]


def test_a_whole_body_over_the_limit_read_at_once_gets_413_and_is_not_scored(served):
    """A body small enough to arrive in one read, but over ``--max-body-bytes``: refused like any other."""
    body = json.dumps({"instances": [served["rows"][0]] * 4}).encode()
    limit = len(body) // 2
    log = served["home"] / "small-limit.log"
    extra = ["--poll-seconds", "0", "--max-body-bytes", str(limit)]
    with local_server(MODEL, extra=extra, env=served["env"], log=log) as url:
        for _ in range(3):
            status, _, answer = _post(url, body)
            assert status == 413, answer
        text = metrics_text(url)
    assert re.search(rf'shopfloor_rows_scored_total{{model="{MODEL}"}} (\S+)', text) is None
