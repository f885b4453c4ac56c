"""deploy: the InferenceService manifest, its check against the kserve SDK's models, and the local deployment."""

import os
import signal
import subprocess
import sys

import mlflow
import yaml
from serving_fixtures import MODEL, call, register_gearbox_model

from loadtest.run import free_port
from serving.inference_service import schema_errors
from shopfloor.platform.deploy import deploy_local, inference_service


def test_manifest_has_the_papers_sizing_and_validates():
    manifest = inference_service(MODEL, image="registry.local/shopfloor:1")
    assert schema_errors(manifest) == []
    predictor = manifest["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 10)
    assert predictor["scaleMetric"] == "rps" and predictor["scaleTarget"] > 0
    container = predictor["containers"][0]
    assert container["resources"]["requests"] == container["resources"]["limits"] == {"cpu": "500m",
                                                                                      "memory": "512Mi"}
    assert container["image"] == "registry.local/shopfloor:1"
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["args"][:4] == ["shopfloor", "serve", "--model-name", MODEL]


def test_schema_check_catches_typos_and_wrong_types():
    manifest = inference_service(MODEL)
    manifest["spec"]["predictor"]["minReplica"] = 1  # typo
    manifest["spec"]["predictor"]["maxReplicas"] = "ten"
    manifest["spec"]["predictor"]["containers"][0]["resources"]["limitz"] = {}
    errors = schema_errors(manifest)
    assert "spec.predictor.minReplica: not a field of V1beta1PredictorSpec" in errors
    assert "spec.predictor.maxReplicas: expected int, got str" in errors
    assert any("limitz: not a field of V1ResourceRequirements" in e for e in errors)


def test_cli_dry_run_prints_a_valid_manifest():
    proc = subprocess.run([sys.executable, "-m", "shopfloor_cli.main", "deploy", "--dry-run", "--scale-target", "80"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    manifest = yaml.safe_load(proc.stdout)
    assert manifest["kind"] == "InferenceService" and manifest["spec"]["predictor"]["scaleTarget"] == 80
    assert schema_errors(manifest) == []


def test_names_that_mlflow_or_urls_refuse_stop_every_command_at_once(tmp_path):
    env = {**os.environ, "SHOPFLOOR_HOME": str(tmp_path)}
    for command in (["deploy", "--dry-run"], ["serve"], ["loadtest"], ["schedule", "retraining", "--interval", "5",
                                                                        "--data", "x.csv"]):
        proc = subprocess.run([sys.executable, "-m", "shopfloor_cli.main", *command, "--model-name", "line/3"],
                              capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 2, (command, proc.stderr)
        assert "model-name: 'line/3' is not a usable model name" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "schedules").exists()


def test_deploy_local_starts_then_follows_the_champion(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    reg, _, _ = register_gearbox_model(home, f2=0.5)
    port = free_port()
    started = deploy_local(MODEL, str(reg.version), port=port, log_dir=tmp_path)
    try:
        assert started["action"] == "started" and started["version"] == "1"
        better, _, _ = register_gearbox_model(home, f2=0.8, seed=2)
        again = deploy_local(MODEL, str(better.version), port=port, log_dir=tmp_path)
        assert again["action"] == "reloaded" and again["version"] == "2" and again["pid"] is None
        assert again["endpoint"] == f"http://127.0.0.1:{port}/v1/models/{MODEL}:predict"
        assert call(f"http://127.0.0.1:{port}/v2/health/ready").status == 200
    finally:
        os.killpg(started["pid"], signal.SIGTERM)
        mlflow.set_tracking_uri(None)
