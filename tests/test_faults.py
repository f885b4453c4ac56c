"""The fault suite: each promise proved with a real fault (SIGKILL, a stopped server, two writers at once).

Kills use fail points (``shopfloor.platform.failpoints``): the run stops at a named place and writes a marker, and the
test kills its whole process group with SIGKILL there, as a crash or an OOM kill would.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from helpers.cli import shopfloor
from helpers.serving_fixtures import MODEL, call, metric_value, metrics_text, register_gearbox_model, rows_as_lists
from mlflow import MlflowClient

from loadtest.run import local_server
from shopfloor.platform.mlflow_server import mlflow_server
from shopfloor.platform.net import free_port
from shopfloor_cli import scheduler

pytestmark = pytest.mark.slow
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


def _env(home: Path, tracking: str | None = None, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SHOPFLOOR_HOME": str(home),
        "MLFLOW_TRACKING_URI": tracking or f"sqlite:///{home / 'mlflow.db'}",
        **extra,
    }


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "shopfloor_cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _kill_at(point: str, args: list[str], home: Path, timeout: float = 300) -> None:
    """Run ``shopfloor ARGS`` until it reaches fail point ``point``, then SIGKILL its process group."""
    marker = home / f"failpoint-{point}"
    marker.unlink(missing_ok=True)
    proc = _start(args, _env(home, SHOPFLOOR_FAILPOINT=point))
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate(timeout=5) if proc.poll() is not None else ("", "")
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"fail point {point} not reached: {err[-2000:]}")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    marker.unlink()


def _aliases(client: MlflowClient, name: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}
    except Exception:
        return {}


def test_a_run_killed_at_ingest_tuning_or_registration_leaves_nothing_and_the_next_succeeds(tmp_path, gearbox_csv):
    home = tmp_path / "home"
    name = "line-2-killed"
    args = ["run", "fault-detection", "--data", str(gearbox_csv), "--model-name", name, "--study", "killed", *FAST]
    client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")

    # killed at ingest; meanwhile a second run of the same model is refused, not run beside it
    marker = home / "failpoint-ingest"
    first = _start(args, _env(home, SHOPFLOOR_FAILPOINT="ingest"))
    try:
        while not marker.exists():
            assert first.poll() is None, first.communicate()
            time.sleep(0.1)
        second = shopfloor(*args, home=home)
        assert second.returncode == 2 and "is being trained by process" in second.stderr, second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    marker.unlink()

    # killed after the first finished trial: the study keeps it
    _kill_at("tuning", args, home)
    storage = f"sqlite:///{home / 'optuna.db'}"
    study = optuna.load_study(study_name="killed-wgan", storage=storage)
    finished = {t.number: t.values for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert finished

    # killed after its version was created and before the alias: a pending version, no alias on it
    _kill_at("registration", args, home)
    pending = client.search_model_versions(f"name='{name}'")
    assert len(pending) == 1 and "shopfloor.pending" in pending[0].tags and not pending[0].aliases
    assert _aliases(client, name) == {}  # no alias names a version that is not complete

    # the next run is not blocked by any lock, resumes the study and clears the dead run's version
    out = tmp_path / "result.json"
    done = shopfloor(*args, "--json", str(out), home=home)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "label 'faulty': '1' taken as faulty (the rarer of the two values" in done.stdout  # said first
    result = json.loads(out.read_text())
    versions = client.search_model_versions(f"name='{name}'")
    assert [int(v.version) for v in versions] == [result["version"]] and result["alias"] == "champion"
    assert "shopfloor.pending" not in versions[0].tags
    assert _aliases(client, name) == {"champion": str(result["version"])}
    assert client.search_registered_models(f"name='{name}.lock'") == []
    study = optuna.load_study(study_name="killed-wgan", storage=storage)
    kept = {t.number: t.values for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    assert all(kept.get(n) == v for n, v in finished.items()) and len(kept) > len(finished)
    dead_run = client.get_run(pending[0].run_id)
    assert dead_run.info.status == "FAILED"


REGISTER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from helpers.serving_fixtures import register_gearbox_model
uri, f2, seed, home = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
reg, _, _ = register_gearbox_model(home, f2=f2, seed=seed, tracking_uri=uri)
print(reg.version, reg.alias)
"""


def two_writers(uri: str, home: Path) -> None:
    """A better and a worse model registered at once, after both could have read the same champion: the
    better one pauses inside its registration (fail point), so without the lock the worse would write last."""
    script = REGISTER.format(tests=str(Path(__file__).parent))
    env = _env(home, uri)
    base = subprocess.run(
        [sys.executable, "-c", script, uri, "0.5", "0", str(home)], env=env, capture_output=True, text=True
    )
    assert base.returncode == 0, base.stderr[-2000:]
    good = subprocess.Popen(
        [sys.executable, "-c", script, uri, "0.9", "1", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "SHOPFLOOR_FAILPOINT": "registration:4"},
    )
    time.sleep(2.5)
    bad = subprocess.Popen(
        [sys.executable, "-c", script, uri, "0.7", "2", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    good_out, good_err = good.communicate(timeout=120)
    bad_out, bad_err = bad.communicate(timeout=120)
    assert good.returncode == 0 and bad.returncode == 0, good_err[-2000:] + bad_err[-2000:]
    # the last line is ours (MLflow prints links to the run before it when it talks to a server)
    (good_version, good_alias), (bad_version, bad_alias) = (
        out.strip().splitlines()[-1].split() for out in (good_out, bad_out)
    )
    assert good_version != bad_version and {good_version, bad_version} == {"2", "3"}
    assert (good_alias, bad_alias) == ("champion", "challenger")
    client = MlflowClient(uri)
    assert str(client.get_registered_model(MODEL).aliases["champion"]) == good_version
    assert client.search_registered_models(f"name='{MODEL}.lock'") == []


def test_two_writers_at_once_on_sqlite_lose_no_update(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    two_writers(f"sqlite:///{home / 'mlflow.db'}", home)


def test_a_scheduler_killed_and_resumed_runs_no_slot_twice_and_records_failures(home, tmp_path, gearbox_csv):
    # no champion of this model exists: every run fails fast, and each failure must be recorded
    done = shopfloor(
        "schedule",
        "retraining",
        "--interval",
        "4",
        "--data",
        str(gearbox_csv),
        "--model-name",
        "line-9-nothing",
        home=home,
    )
    assert done.returncode == 0, done.stderr
    schedule_id = done.stdout.split()[2]
    record = home / "schedules" / f"{schedule_id}.json"
    try:
        _wait(lambda: len(scheduler.events(schedule_id)) >= 2, 90)
        claimed = json.loads(record.read_text())["last_slot"]
        # kill it during a run: right after it claims the next slot
        _wait(lambda: json.loads(record.read_text())["last_slot"] != claimed, 30)
        killed_slot = json.loads(record.read_text())["last_slot"]
        os.kill(json.loads(record.read_text())["pid"], signal.SIGKILL)
        seen = len(scheduler.events(schedule_id))
        resumed = shopfloor("schedule", "resume", schedule_id, home=home)
        assert resumed.returncode == 0, resumed.stderr
        _wait(lambda: len(scheduler.events(schedule_id)) >= seen + 2, 90)
    finally:
        shopfloor("schedule", "delete", schedule_id, home=home)
    events = scheduler.events(schedule_id)
    slots = [e["slot"] for e in events]
    assert len(slots) == len(set(slots)) and slots == sorted(slots)  # no slot ran twice
    assert all(e["slot"] != killed_slot for e in events[seen:])  # the slot being run at the kill was not re-run
    assert all(e["exit_code"] != 0 and e["error"] for e in events)  # failures recorded with their error
    assert "line-9-nothing" in " ".join(events[0]["error"])


def _wait(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_serving_survives_the_registry_going_away_and_follows_it_back(tmp_path, gearbox_csv):
    """With registry users on, as the cluster runs MLflow: the model server reads as its read-only identity,
    registrations and the pipeline write as the pipeline's."""
    from shopfloor.platform import mlflow_auth as auth

    admin = auth.Identity(auth.ADMIN_USER, "admin-password-for-fault-tests")
    trainer = auth.Identity("line-1-training", "trainer-password-2")
    reader = auth.Identity("line-1-server", "server-password-2")
    home = tmp_path / "home"
    home.mkdir()
    backend, artifacts, port = f"sqlite:///{home / 'server.db'}", str(home / "artifacts"), free_port()
    users = auth.server_environment(home / "auth", environ={auth.PASSWORD_ENV: admin.password})
    script = REGISTER.format(tests=str(Path(__file__).parent))
    with mlflow_server(backend, artifacts, port=port, auth=users) as url:
        auth.grant_role(url, admin, trainer, "pipeline", MODEL, "serving-tests")
        auth.grant_role(url, admin, reader, "server", MODEL, "serving-tests")
        first = subprocess.run(
            [sys.executable, "-c", script, url, "0.5", "0", str(home)],
            env=_env(home, url, **trainer.environ()),
            capture_output=True,
            text=True,
        )
        assert first.returncode == 0, first.stderr[-2000:]
    # the server starts while the registry runs; then the registry goes away (SIGKILL) and comes back
    with mlflow_server(backend, artifacts, port=port, auth=users) as url:
        log = home / "server.log"
        with local_server(
            MODEL, extra=["--poll-seconds", "1"], env=_env(home, url, **reader.environ()), log=log
        ) as served:
            rows = {"instances": _example(served)}
            assert call(f"{served}/v1/models/{MODEL}:predict", rows).headers["x-model-version"] == "1"
            stopped_at = time.monotonic()
            _stop_server(url)
            failures = f'shopfloor_alias_checks_total{{model="{MODEL}",outcome="failed"}}'
            _wait(lambda: metric_value(metrics_text(served), failures) >= 2, 30)  # two checks failed: it noticed
            answers = [call(f"{served}/v1/models/{MODEL}:predict", rows) for _ in range(20)]
            assert all(a.status == 200 and a.headers["x-model-version"] == "1" for a in answers)
            assert "alias check failed" in log.read_text()
            # a pipeline started meanwhile fails at once, naming the registry
            started = time.monotonic()
            run = shopfloor(
                "run",
                "fault-detection",
                "--data",
                str(gearbox_csv),
                "--model-name",
                MODEL,
                *FAST,
                home=home,
                tracking_uri=url,
            )
            assert run.returncode == 2 and "unreachable" in run.stderr and time.monotonic() - started < 30
            # the registry comes back with a new champion: the server follows
            with mlflow_server(backend, artifacts, port=port, auth=users):
                second = subprocess.run(
                    [sys.executable, "-c", script, url, "0.9", "1", str(home)],
                    env=_env(home, url, **trainer.environ()),
                    capture_output=True,
                    text=True,
                )
                assert second.returncode == 0, second.stderr[-2000:]
                _wait(
                    lambda: call(f"{served}/v1/models/{MODEL}:predict", rows).headers.get("x-model-version") == "2", 60
                )
            assert time.monotonic() - stopped_at > 2  # the outage spanned several of its checks
            # it read as itself throughout: never refused (MLflow's client says "error code 401" or "403")
            assert re.search(r"error code 40[13]|PERMISSION_DENIED", log.read_text()) is None


def _stop_server(url: str) -> None:
    """Stop the MLflow server listening at ``url`` (the context manager's own stop comes later and finds it
    gone)."""
    os.killpg(os.getpgid(_listener(url).pid), signal.SIGKILL)


def _example(url: str) -> list[list[float]]:
    meta = call(f"{url}/v2/models/{MODEL}").body
    return [[0.1] * len(meta["inputs"])]


async def _load(url: str, rate: float, seconds: float, body: dict, results: list) -> None:
    """``rate`` requests a second for ``seconds`` (open loop: a slow answer does not slow the sending)."""
    import httpx

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=10) as client:

        async def one() -> None:
            try:
                answer = await client.post(f"{url}/v1/models/{MODEL}:predict", json=body)
                results.append(
                    (answer.status_code, answer.headers.get("x-model-version"), answer.json().get("model_version"))
                )
            except Exception as exc:  # counted as a lost request
                results.append((0, None, repr(exc)))

        tasks = []
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)


def test_hot_swap_under_load_loses_no_request_and_skips_a_broken_version(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    register_gearbox_model(home, f2=0.5, seed=0)
    # 100 requests a second for 15 s: the swaps below happen in its first half. (At 300 a second offered, this
    # test's one-threaded client sent about 85 a second and the run took 110 s instead of 30.)
    rate, seconds = 100.0, 15.0
    with local_server(MODEL, extra=["--poll-seconds", "0.5"], env=_env(home), log=home / "server.log") as url:
        body = {"instances": _example(url)}
        results: list = []
        load = threading.Thread(target=lambda: asyncio.run(_load(url, rate, seconds, body, results)))
        load.start()

        def answered_by(version: str) -> bool:
            return any(r[1] == version for r in results[-50:])

        _wait(lambda: len(results) > 300, 30)  # the load is on
        register_gearbox_model(home, f2=0.7, seed=1)  # v2 becomes champion: a swap under load
        _wait(lambda: answered_by("2"), 30)
        register_gearbox_model(home, f2=0.9, seed=2)  # v3: the second swap
        _wait(lambda: answered_by("3"), 30)
        reg, _, _ = register_gearbox_model(home, f2=0.1, seed=3)  # v4, a challenger whose artifact we break
        client = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
        _break_artifact(client, reg.version)
        client.set_registered_model_alias(MODEL, "champion", str(reg.version))
        load.join()
        text = metrics_text(url)
    sent = len(results)
    failed = [r for r in results if r[0] != 200]
    assert sent == int(rate * seconds) and failed == [], failed[:5]
    assert all(header == body_version for _, header, body_version in results)  # one version per answer
    seen = {r[1] for r in results}
    assert {"1", "2", "3"} <= seen and "4" not in seen
    assert metric_value(text, f'shopfloor_model_load_failures_total{{model="{MODEL}",version="4"}}') >= 1
    assert metric_value(text, f'shopfloor_served_version{{model="{MODEL}"}}') == 3
    (tmp_path / "hot_swap.json").write_text(json.dumps({"sent": sent, "failed": len(failed), "versions": sorted(seen)}))
    print(
        f"hot swap: {sent} requests sent at {rate:g}/s for {seconds:g} s, {len(failed)} failed, versions {sorted(seen)}"
    )


def _break_artifact(client: MlflowClient, version: int) -> None:
    """Overwrite the pickled model of ``version`` with garbage, as a bad upload or a half-copied store would."""
    from urllib.parse import urlparse

    source = client.get_model_version(MODEL, str(version)).source
    model_id = source.removeprefix("models:/").split("/")[0]
    root = Path(urlparse(client.get_logged_model(model_id).artifact_location).path)
    pickled = list(root.rglob("python_model.pkl"))
    assert pickled, f"no python_model.pkl under {root}"
    for path in pickled:
        path.write_bytes(b"not a pickle")


def test_hostile_requests_get_4xx_and_memory_stays_bounded(tmp_path):

    home = tmp_path / "home"
    home.mkdir()
    _, _, rows = register_gearbox_model(home, f2=0.5)
    good = rows_as_lists(rows.head(1))[0]
    with local_server(MODEL, extra=["--poll-seconds", "0"], env=_env(home), log=home / "server.log") as url:
        predict = f"{url}/v1/models/{MODEL}:predict"
        server = _listener(url)
        rss = server.memory_info().rss
        cases = {
            "deep nesting": ("[" * 100_000 + "]" * 100_000).encode(),
            "deep object": ('{"instances": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}").encode(),
            "max batch, one bad row": json.dumps({"instances": [good] * 999 + [[*good[:-1], "x"]]}).encode(),
            "long feature names": json.dumps(
                {"instances": [{("f" * 100_000) + str(i): 1.0 for i in range(5)}]}
            ).encode(),
            "unicode names": json.dumps({"instances": [{"温度\u202e": 1.0, "💥": 2.0, "\ud800x": 3.0}]}).encode(),
            "not utf-8": b'\xff\xfe{"instances": [[1]]}',
            "numbers too big": b'{"instances": [[1e400, ' + b"9" * 5000 + b"]]}",
        }
        for case, raw in cases.items():
            answer = call(predict, raw=raw)
            assert 400 <= answer.status < 500, (case, answer.status, answer.body)
        assert _send_huge(url, f"/v1/models/{MODEL}:predict", 100 * 2**20) == 413  # 100 MB
        v2 = f"{url}/v2/models/{MODEL}/infer"
        bad_v2 = {"inputs": [{"name": "x" * 50_000, "shape": [1, 1], "datatype": "FP64", "data": [1.0]}]}
        assert 400 <= call(v2, bad_v2).status < 500

        statuses: list[int] = []

        def hammer() -> None:
            for raw in list(cases.values()) * 3:
                statuses.append(call(predict, raw=raw).status)

        threads = [threading.Thread(target=hammer) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses and all(400 <= s < 500 for s in statuses), sorted(set(statuses))
        assert call(predict, {"instances": [good]}).status == 200  # still serving
        grown = (server.memory_info().rss - rss) / 2**20
        assert grown < 300, f"server memory grew by {grown:.0f} MiB"


def _send_huge(url: str, path: str, size: int) -> int:
    """POST ``size`` bytes in 1 MiB pieces, reading the answer as soon as one comes; its status code."""
    import select
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
        )
        piece, sent = b" " * 2**20, 0
        while sent < size and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(piece)
            except OSError:  # the server answered and closed: read what it said
                break
            sent += len(piece)
        data = sock.recv(4096)
    return int(data.split(b" ", 2)[1])


def _listener(url: str):
    import psutil

    port = int(url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return psutil.Process(conn.pid)
    raise AssertionError(f"nothing listens on {url}")
