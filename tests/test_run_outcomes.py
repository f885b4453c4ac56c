"""Unattended runs: the exit step of the compiled pipelines runs on a failing pipeline in kfp.local and records
the failure; the outcome record keeps the last success across failures."""

from __future__ import annotations

import json

import pytest

from shopfloor.platform.run_outcomes import record_outcome


def test_a_failed_run_keeps_the_last_success_on_record(tmp_path):
    record_outcome("retraining", "SUCCEEDED", when=1000.0, directory=tmp_path)
    record_outcome(
        "retraining", "FAILED", error="check: no champion", task="check-new-data", when=2000.0, directory=tmp_path
    )
    text = (tmp_path / "shopfloor_pipeline_retraining.prom").read_text()
    assert 'shopfloor_pipeline_last_run_success{pipeline="retraining"} 0' in text
    assert 'shopfloor_pipeline_last_run_timestamp_seconds{pipeline="retraining"} 2000.000' in text
    assert 'shopfloor_pipeline_last_success_timestamp_seconds{pipeline="retraining"} 1000.000' in text
    runs = [json.loads(line) for line in (tmp_path / "pipeline_runs.jsonl").read_text().splitlines()]
    assert [(r["state"], r["task"]) for r in runs] == [("SUCCEEDED", ""), ("FAILED", "check-new-data")]
    from prometheus_client.parser import text_string_to_metric_families

    assert {f.name for f in text_string_to_metric_families(text)} >= {"shopfloor_pipeline_last_run_success"}


def test_the_exit_step_runs_on_a_failing_pipeline_in_kfp_local_and_records_the_failure(home, tmp_path):
    """The compiled form of retraining (its DAG inside dsl.ExitHandler) on a table that does not exist: the
    check step fails, the exit step still runs and records FAILED."""
    from kfp import local

    from pipelines.monitored import monitored
    from pipelines.retraining import retraining
    from shopfloor import config

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"), raise_on_error=False)
    monitored(retraining)(data_path=str(tmp_path / "missing.csv"), tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    record = config.home() / "metrics" / "shopfloor_pipeline_retraining.prom"
    assert 'shopfloor_pipeline_last_run_success{pipeline="retraining"} 0' in record.read_text()
    runs = [json.loads(line) for line in (record.parent / "pipeline_runs.jsonl").read_text().splitlines()]
    assert runs[-1]["state"] == "FAILED" and runs[-1]["error"]


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED"])
def test_the_outcome_is_pushed_to_a_pushgateway_when_one_is_named(tmp_path, monkeypatch, state):
    """The request our exit step sends, captured by a local HTTP server standing in for the Pushgateway."""
    import http.server
    import threading

    got = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the handler's interface
            got.append((self.path, self.rfile.read(int(self.headers["content-length"])).decode()))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.handle_request, daemon=True).start()
    monkeypatch.setenv("SHOPFLOOR_PUSHGATEWAY", f"127.0.0.1:{server.server_port}")
    record_outcome("retraining", state, when=3000.0, directory=tmp_path)
    server.server_close()
    [(path, body)] = got
    assert path == "/metrics/job/shopfloor-pipelines/pipeline/retraining"  # POST: other metrics of the group kept
    value = 1.0 if state == "SUCCEEDED" else 0.0
    assert f'shopfloor_pipeline_last_run_success{{pipeline="retraining"}} {value}' in body
    assert ("shopfloor_pipeline_last_success_timestamp_seconds" in body) == (state == "SUCCEEDED")
