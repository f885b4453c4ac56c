"""Scheduling: a local schedule fires within the test; the KFP recurring-run request is built by the kfp
SDK's Client and captured by a loopback HTTP server standing in for the Kubeflow Pipelines API."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers.cli import shopfloor
from helpers.retrain_fixtures import drifted_csv, register_champion

from shopfloor_cli import scheduler
from shopfloor_cli.kfp_client import kfp_cron, schedule


def test_cron_lines_for_kfp():
    assert kfp_cron("0 3 * * *") == "0 0 3 * * *"
    assert kfp_cron("30 0 3 * * *") == "30 0 3 * * *"
    with pytest.raises(ValueError, match="cron"):
        kfp_cron("every day")


def test_schedule_validation(home):
    with pytest.raises(ValueError, match="cron"):
        scheduler.Schedule(data="x.csv", cron="61 3 * * *")
    with pytest.raises(ValueError, match="give cron, interval, or a server to watch"):
        scheduler.Schedule(data="x.csv")
    with pytest.raises(ValueError, match="not both"):
        scheduler.Schedule(data="x.csv", cron="0 3 * * *", interval=60)
    with pytest.raises(ValueError, match="when: needs a model server"):
        scheduler.Schedule(data="", interval=60, when="live_f2 < 0.6")
    with pytest.raises(ValueError, match="expected 'live_METRIC < VALUE'"):
        scheduler.Schedule(data="", watch_server="http://127.0.0.1:8080", when="f2 below 0.6")
    on_quality = scheduler.Schedule(data="", watch_server="http://127.0.0.1:8080", when="live_pr_auc <= .5")
    assert on_quality.next_time(0) == float("inf") and on_quality.latest_slot(time.time()) is None
    assert scheduler.parse_condition("live_pr_auc <= .5") == ("pr_auc", "<=", 0.5)
    nightly = scheduler.Schedule(data="x.csv", cron="0 3 * * *")
    start = time.mktime((2026, 11, 23, 10, 0, 0, 0, 0, -1))
    assert time.localtime(nightly.next_time(start))[:5] == (2026, 11, 24, 3, 0)
    with pytest.raises(ValueError, match="watch_server"):
        scheduler.Schedule(data="x.csv", interval=60, watch_server="localhost:8080")
    with pytest.raises(ValueError, match="psi"):
        scheduler.Schedule(data="x.csv", interval=60, watch_server="http://127.0.0.1:8080", psi=0)


def test_served_drift_fires_once_per_episode():
    reads = [{}, {"temp": 0.4}, {"temp": 0.5, "rpm": 0.3}, None, {"temp": 0.3}, {}, None, {"rpm": 0.6}]
    episode, fired = False, []
    for drifted in reads:
        start, episode = scheduler.new_episode(drifted, episode)
        fired.append(start)
    # fires when drift first shows, not while it lasts or when the server cannot be read, again after it ended
    assert fired == [False, True, False, False, False, False, False, True]


@pytest.mark.slow
def test_local_schedule_fires_and_is_deleted(home, tmp_path):
    register_champion(home, "logreg")
    data = drifted_csv(tmp_path / "new.csv", rows=600)
    done = shopfloor(
        "schedule",
        "retraining",
        "--interval",
        "2",
        "--data",
        str(data),
        "--model-name",
        "gearbox-fault-classifier",
        home=home,
    )
    assert done.returncode == 0, done.stderr
    schedule_id = done.stdout.split()[2]
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not (home / "schedules" / f"{schedule_id}.events.jsonl").exists():
            time.sleep(1)
        listed = json.loads(shopfloor("schedule", "list", "--format", "json", home=home).stdout)
        assert [row["id"] for row in listed] == [schedule_id] and listed[0]["running"]
        event = json.loads((home / "schedules" / f"{schedule_id}.events.jsonl").read_text().splitlines()[0])
        assert event["trigger"] == "schedule" and event["exit_code"] == 0 and event["version"] == 2
        assert event["promoted"] and event["alias"] == "champion"
    finally:
        gone = shopfloor("schedule", "delete", schedule_id, home=home)
    assert gone.returncode == 0
    pid = listed[0]["pid"]
    for _ in range(50):
        if not scheduler.alive(pid):
            break
        time.sleep(0.2)
    assert not scheduler.alive(pid)
    assert json.loads(shopfloor("schedule", "list", "--format", "json", home=home).stdout) == []


class KfpApi(BaseHTTPRequestHandler):
    """Answers the few KFP v2beta1 calls that scheduling makes and keeps every request."""

    requests: list = []

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.requests.append(("GET", self.path, None))
        self._answer({"multi_user": False} if "healthz" in self.path else {})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.requests.append(("POST", self.path, body))
        if self.path.endswith("/experiments"):
            self._answer({"experiment_id": "exp-1", "display_name": body.get("display_name")})
        else:
            self._answer({**body, "recurring_run_id": "rr-1", "run_id": "run-1"})

    def log_message(self, *args):
        pass


def test_recurring_run_request_built_by_the_kfp_sdk():
    server = ThreadingHTTPServer(("127.0.0.1", 0), KfpApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_port}"
        job = schedule(
            "retraining",
            host,
            "0 3 * * *",
            {"data_path": "/data/new.parquet"},
            tracking_uri="http://mlflow:5000",
            image="registry.local/shopfloor:1",
        )
    finally:
        server.shutdown()
    assert job["recurring_run_id"] == "rr-1" and job["cron"] == "0 0 3 * * *"
    posted = [body for method, path, body in KfpApi.requests if method == "POST" and "recurringruns" in path]
    assert len(posted) == 1
    body = posted[0]
    assert int(body["max_concurrency"]) == 1 and body["no_catchup"] is True
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
    assert body["experiment_id"] == "exp-1" and body["mode"] == "ENABLE"
    assert body["runtime_config"]["parameters"] == {
        "data_path": "/data/new.parquet",
        "tracking_uri": "http://mlflow:5000",
    }
    assert sent_images(body) == {"registry.local/shopfloor:1"}


def sent_images(body: dict) -> set[str]:
    """The images of the pipeline a run request carries, after checking that every step mounts the data volume
    (the request holds the pipeline and its Kubernetes platform settings side by side)."""
    from shopfloor.constants import DATA_MOUNT, DATA_VOLUME

    sent = body["pipeline_spec"]
    executors = sent["pipeline_spec"]["deploymentSpec"]["executors"]
    mounts = sent["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(mounts) == set(executors)
    assert all(m["pvcMount"][0]["mountPath"] == DATA_MOUNT for m in mounts.values())
    assert all(m["pvcMount"][0]["constant"] == DATA_VOLUME for m in mounts.values())
    return {e["container"]["image"] for e in executors.values()}


def test_unknown_pipeline_parameter_is_refused():
    with pytest.raises(ValueError, match="no parameter 'dataset'"):
        schedule("retraining", "http://127.0.0.1:9", "0 3 * * *", {"dataset": "x"})


def test_watched_file_drift_check(home, tmp_path):
    from shopfloor.data.simulate import simulate_gearbox

    register_champion(home, "logreg")
    calm, moved = tmp_path / "calm.csv", drifted_csv(tmp_path / "moved.csv", rows=600)
    simulate_gearbox(rows=600, seed=11).to_csv(calm, index=False)
    assert scheduler.drift_in(scheduler.Schedule(data=str(calm), interval=60, watch=str(calm))) == []
    drifted = scheduler.drift_in(scheduler.Schedule(data=str(moved), interval=60, watch=str(moved)))
    assert "ws1_press_bearing_b_peak_kN" in drifted and "ws2_screw_flange_angle_deg" in drifted


def test_submit_uploads_a_run_with_the_mlflow_uri_and_image():
    from shopfloor_cli.kfp_client import submit

    KfpApi.requests.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), KfpApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_port}"
        run = submit(
            "fault-detection",
            host,
            {"data_path": "/data/gearbox.csv"},
            tracking_uri="http://mlflow:5000",
            image="registry.local/shopfloor:2",
        )
    finally:
        server.shutdown()
    assert run["run_id"] == "run-1" and run["url"].endswith("/#/runs/details/run-1")
    body = next(b for m, p, b in KfpApi.requests if m == "POST" and p.endswith("/runs"))
    assert body["runtime_config"]["parameters"] == {
        "data_path": "/data/gearbox.csv",
        "tracking_uri": "http://mlflow:5000",
        "image": "registry.local/shopfloor:2",
    }
    assert sent_images(body) == {"registry.local/shopfloor:2"}
