"""The cluster's tracking path on one machine: a real PostgreSQL (initdb + pg_ctl in a temp dir, free port), a
real MLflow server on it with proxied artifacts, the fault-detection pipeline and the model server through it.

Skipped, saying why, where PostgreSQL's server programs are missing (``apt-get install postgresql``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.cli import shopfloor
from helpers.serving_fixtures import call, metric_value, metrics_text, register_gearbox_model
from mlflow import MlflowClient

from shopfloor.platform.mlflow_server import postgres_bin, postgres_mlflow
from shopfloor.platform.net import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        postgres_bin() is None, reason="PostgreSQL's server programs are not installed (apt-get install postgresql)"
    ),
]
MODEL = "line-7-gearbox"
FAST = (
    "--synthesizer",
    "wgan",
    "--trials",
    "2",
    "--timeout",
    "60",
    "--max-steps",
    "24",
    "--cv-folds",
    "2",
    "--classifier",
    "logreg",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("pg-mlflow")
    with postgres_mlflow(root) as (url, pg):
        yield url, pg


def _versions(url: str, name: str) -> list[int]:
    return sorted(int(v.version) for v in MlflowClient(url).search_model_versions(f"name='{name}'"))


def test_pipeline_serving_and_alias_through_the_server_on_postgres(server, tmp_path, gearbox_csv):
    from loadtest.run import local_server

    url, pg = server
    home = tmp_path / "home"
    out = tmp_path / "result.json"
    done = shopfloor(
        "run",
        "fault-detection",
        "--data",
        str(gearbox_csv),
        "--model-name",
        MODEL,
        *FAST,
        "--optuna-storage",
        pg.uri("optuna"),
        "--tuning-workers",
        "2",
        "--trials",
        "4",
        "--study",
        "served",
        "--json",
        str(out),
        home=home,
        tracking_uri=url,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"MLflow at {url}" in done.stdout
    # two tuning workers (a ParallelFor) shared one study in PostgreSQL: 2 trials each, no number twice
    assert sum(line.lstrip().startswith("tune wgan/") for line in done.stdout.splitlines()) == 2
    import optuna

    trials = optuna.load_study(study_name="served-wgan", storage=pg.uri("optuna")).trials
    assert len(trials) == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]
    result = json.loads(out.read_text())
    assert result["alias"] == "champion" and _versions(url, MODEL) == [result["version"]]
    client = MlflowClient(url)
    # runs and registry live in PostgreSQL, artifacts behind the server (proxied: mlflow-artifacts:/ URIs)
    run = client.get_run(result["run_id"])
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert not (home / "mlflow.db").exists() and not (home / "mlartifacts").exists()

    # the model server loads the champion from the tracking server and follows the alias there
    env = {"MLFLOW_TRACKING_URI": url, "SHOPFLOOR_HOME": str(home)}
    with local_server(MODEL, extra=["--poll-seconds", "1"], env=env) as served:
        rows = [[1.0] * len(_inputs(served))]
        first = call(f"{served}/v1/models/{MODEL}:predict", {"instances": rows})
        assert first.status == 200 and first.headers["x-model-version"] == str(result["version"])
        v2 = call(
            f"{served}/v2/models/{MODEL}/infer",
            {"inputs": [{"name": name, "shape": [1], "datatype": "FP64", "data": [1.0]} for name in _inputs(served)]},
        )
        assert v2.status == 200 and v2.body["model_version"] == str(result["version"])

        # a second version, registered through the server as a challenger, then the alias moved to it by hand
        register_gearbox_model(tmp_path / "second", f2=0.0, seed=1, name=MODEL, tracking_uri=url)
        newest = _versions(url, MODEL)[-1]
        assert newest == result["version"] + 1
        client.set_registered_model_alias(MODEL, "champion", str(newest))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = call(f"{served}/v1/models/{MODEL}:predict", {"instances": rows})
            if answer.headers.get("x-model-version") == str(newest):
                break
            time.sleep(0.5)
        assert answer.status == 200 and answer.headers["x-model-version"] == str(newest)
        text = metrics_text(served)
        assert metric_value(text, f'shopfloor_alias_checks_total{{model="{MODEL}",outcome="ok"}}') >= 1


def _inputs(url: str) -> list[str]:
    meta = call(f"{url}/v2/models/{MODEL}")
    return [i["name"] for i in meta.body["inputs"]]


def test_an_unreachable_server_is_named_within_seconds_and_nothing_is_written(tmp_path, gearbox_csv):
    home = tmp_path / "home"
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = shopfloor(
        "run", "fault-detection", "--data", str(gearbox_csv), "--model-name", MODEL, *FAST, home=home, tracking_uri=dead
    )
    assert done.returncode == 2 and time.monotonic() - started < 30
    assert "MLFLOW_TRACKING_URI" in done.stderr and dead in done.stderr and "unreachable" in done.stderr
    assert not (home / "runs").exists()  # no pipeline step started


def test_a_wrong_optuna_storage_is_named_before_training(tmp_path, gearbox_csv):
    home = tmp_path / "home"
    started = time.monotonic()
    for url in (f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/optuna", "nosuchdb://x/y"):
        done = shopfloor(
            "run",
            "fault-detection",
            "--data",
            str(gearbox_csv),
            "--model-name",
            MODEL,
            *FAST,
            "--optuna-storage",
            url,
            home=home,
        )
        assert done.returncode == 2 and "optuna-storage" in done.stderr, done.stderr
    assert time.monotonic() - started < 60
    assert not (home / "runs").exists()


def test_postgres_stopped_mid_run_fails_named_and_registers_nothing(server, tmp_path, gearbox_csv):
    url, pg = server
    home = tmp_path / "home"
    name = "line-7-stopped-db"
    env = {**os.environ, "SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": url}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shopfloor_cli.main",
            "run",
            "fault-detection",
            "--data",
            str(gearbox_csv),
            "--model-name",
            name,
            *FAST,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_step(home, "ingest", proc)
        pg.stop("immediate")  # a crash of the database while the run trains
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
        pg.start()
    assert proc.returncode != 0
    assert "MLFLOW_TRACKING_URI" in err + out and "nothing was registered" in err + out, err[-2000:]
    client = MlflowClient(url)
    assert client.search_model_versions(f"name='{name}'") == []
    assert client.search_registered_models(f"name='{name}.lock'") == []  # no lock left behind


def _wait_for_step(home: Path, step: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until the run under ``home`` reports ``step`` done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for events in home.glob("runs/*/events.jsonl"):
            for line in events.read_text().splitlines():
                if f'"name": "{step}"' in line and '"status": "ok"' in line:
                    return
        time.sleep(0.2)
    raise TimeoutError(f"step {step} did not finish in {timeout} s")


def test_two_writers_at_once_on_the_server_lose_no_update(server, tmp_path):
    from test_faults import two_writers

    url, _ = server
    home = tmp_path / "home"
    home.mkdir()
    two_writers(url, home)


WORKER = """
import sys
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.synth.tuning import Objective, factory_for, space_for, tune
rows = simulate_gearbox(rows=1500, seed=0)
faults = rows[rows["faulty"] == 1].drop(columns=["faulty"]).reset_index(drop=True)
tune(faults.iloc[:60], space_for("wgan", 24), factory_for("wgan", 0), Objective("fidelity", faults.iloc[60:]),
     n_trials=3, timeout=None, storage=sys.argv[1], study_name="shared", seed=int(sys.argv[2]), progress=False,
     refit=False)
"""


def test_two_tuning_worker_processes_share_one_study_without_duplicates_or_losses(server):
    import optuna

    _, pg = server
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, pg.uri("optuna"), str(seed)], stderr=subprocess.PIPE, text=True)
        for seed in (0, 1)
    ]
    for worker in workers:
        assert worker.wait(timeout=300) == 0, worker.stderr.read()[-2000:]
    trials = optuna.load_study(study_name="shared", storage=pg.uri("optuna")).trials
    assert sorted(t.number for t in trials) == list(range(6))  # 3 + 3, none lost, no number twice
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)


def test_a_local_champion_moves_to_the_servers_registry(server, tmp_path, capsys, monkeypatch):
    """``shopfloor copy-model``: the champion of this machine's SQLite store is registered on the MLflow server
    (PostgreSQL behind it, as on the cluster) with its training rows; copied again, the server's registry compares
    it with the champion it holds by the same score."""
    from helpers.cli import run_cli

    url, _ = server
    home = tmp_path / "laptop"
    register_gearbox_model(home, f2=0.61, name="moved-line", reference=tmp_path / "train.parquet")
    args = ("copy-model", "--model-name", "moved-line", "--to-tracking-uri", url)
    code, out, err = run_cli(*args, home=home, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0, err
    assert "registered at" in out and "@champion" in out
    client = MlflowClient(url)
    there = client.get_model_version_by_alias("moved-line", "champion")
    run = client.get_run(there.run_id)
    assert run.data.metrics["test_f2"] == pytest.approx(0.61)
    assert "laptop" in run.data.tags["shopfloor.copied_from"]
    assert "reference" in [a.path for a in client.list_artifacts(there.run_id)]
    code, out, err = run_cli(*args, home=home, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 0 and "as moved-line version 2" in out and "vs champion 0.610" in out, err
