"""The one image, built and run as the cluster runs it: ``make image`` (from the wheelhouse, no network at build
time), ``shopfloor serve`` in it with a read-only root filesystem and no capabilities against the MLflow
server on PostgreSQL, and the fault-detection pipeline with kfp.local's DockerRunner, each step in the image.

Skipped, saying why, where no Docker daemon answers, where no base image is present (no registry is
reachable here: ``make base-image``), or where PostgreSQL's programs are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from helpers.serving_fixtures import MODEL, call, register_gearbox_model

from shopfloor.constants import IMAGE
from shopfloor.platform import hardening
from shopfloor.platform.mlflow_server import postgres_bin, postgres_mlflow
from shopfloor.platform.net import free_port, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASES = ("shopfloor-base:bookworm", "python:3.11-slim")


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def _base_image() -> str | None:
    wanted = os.environ.get("SHOPFLOOR_BASE_IMAGE")
    for image in [wanted] if wanted else BASES:
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
            return image
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _docker_answers(), reason="no Docker daemon answers (apt-get install docker.io; dockerd)"),
    pytest.mark.skipif(postgres_bin() is None, reason="PostgreSQL's programs are not installed"),
]


@pytest.fixture(scope="module")
def image():
    base = _base_image()
    if base is None:
        pytest.skip(f"no base image among {BASES} here and no registry to pull one from: make base-image")
    built = subprocess.run(
        ["make", "image", f"BASE_IMAGE={base}", f"IMAGE={IMAGE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return IMAGE


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with postgres_mlflow(tmp_path_factory.mktemp("image-pg")) as (url, pg):
        yield url, pg


def _in_image(image: str, *args: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", *hardening.docker_run_flags(), *extra, image, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_image_holds_the_runtime_only_and_runs_as_its_user(image):
    probe = (
        "import importlib.util as u, os; print(os.getuid(), [m for m in ('pytest', 'ruff', 'schemathesis', "
        "'pip') if u.find_spec(m)])"
    )
    done = _in_image(image, "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(None, 1) == [str(hardening.USER), "[]\n"]
    assert _in_image(image, "shopfloor", "--help").returncode == 0
    wrote = _in_image(image, "sh", "-c", "touch /opt/x")  # the root filesystem is read-only
    assert wrote.returncode != 0


def test_the_model_server_in_the_image_serves_from_the_mlflow_server(image, server, tmp_path):
    url, _ = server
    reg, _, rows = register_gearbox_model(tmp_path, f2=0.5, tracking_uri=url)
    port = free_port()
    name = f"shopfloor-serve-{port}"
    started = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            *hardening.docker_run_flags(),
            "-e",
            f"MLFLOW_TRACKING_URI={url}",
            image,
            "shopfloor",
            "serve",
            "--model-name",
            MODEL,
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
    )
    assert started.returncode == 0, started.stderr
    served = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{served}/v2/models/{MODEL}/ready", "model server in the image", timeout=180)
        row = [v if isinstance(v, str) else float(v) for v in rows.iloc[0]]
        v1 = call(f"{served}/v1/models/{MODEL}:predict", {"instances": [row]})
        assert v1.status == 200 and v1.headers["x-model-version"] == str(reg.version)
        meta = call(f"{served}/v2/models/{MODEL}").body
        v2 = call(
            f"{served}/v2/models/{MODEL}/infer",
            {
                "inputs": [
                    {"name": i["name"], "shape": [1], "datatype": i["datatype"], "data": [row[k]]}
                    for k, i in enumerate(meta["inputs"])
                ]
            },
        )
        assert v2.status == 200 and v2.body["model_version"] == str(reg.version)
    finally:
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    assert "Traceback" not in logs.stdout + logs.stderr


def test_the_pipeline_runs_each_step_in_the_image_with_dockerrunner(image, server, tmp_path, monkeypatch):
    from pipelines.fault_detection import fault_detection
    from shopfloor import config
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor_cli.runner import run_local

    url, pg = server
    home = tmp_path / "home"
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    root = config.kfp_local_root()  # mounted into every step's container at the same path
    data = root / "gearbox.csv"
    simulate_gearbox(rows=600, seed=3).to_csv(data, index=False)
    os.chmod(root, 0o777)  # the steps run as the image's user, not as this test's
    container = {**hardening.docker_run_args(), "network_mode": "host", "environment": {"MLFLOW_TRACKING_URI": url}}
    started = time.monotonic()
    run = run_local(
        fault_detection,
        container=container,
        data_path=str(data),
        tracking_uri=url,
        synthesizers=["wgan"],
        n_trials=2,
        timeout=60.0,
        max_steps=24,
        cv_folds=2,
        model_name=MODEL,
        optuna_storage=pg.uri("optuna"),
    )
    assert run.output["alias"] == "champion" and run.output["model_name"] == MODEL
    log = run.log.read_text()
    assert f"Found image '{IMAGE}'" in log or f"Found image {IMAGE!r}" in log
    print(f"fault detection with DockerRunner: {time.monotonic() - started:.0f} s")


def test_no_secret_in_the_image_layers_config_or_shopfloor_files(image):
    from test_trust import scan

    history = subprocess.run(
        ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    config = subprocess.run(
        ["docker", "image", "inspect", image, "--format", "{{json .Config}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    dump = (
        "import pathlib, importlib\n"
        "for name in ('shopfloor', 'shopfloor_cli', 'serving', 'pipelines', 'components', 'loadtest'):\n"
        "    root = pathlib.Path(importlib.import_module(name).__file__).parent\n"
        "    for path in sorted(root.rglob('*.py')):\n"
        "        print(path.read_text())\n"
    )
    files = _in_image(image, "python", "-c", dump)
    assert files.returncode == 0 and "def register_model" in files.stdout
    assert "MLFLOW_TRACKING_URI" not in config or "@" not in config  # no credentials in the image's env
    assert scan(history) == [] and scan(config) == [] and scan(files.stdout) == []
