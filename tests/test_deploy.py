"""deploy: the InferenceService manifest, its check against the kserve SDK's models, and the local deployment."""

import os
import signal
import subprocess
import sys

import mlflow
import pytest
import yaml
from helpers.serving_fixtures import MODEL, call, register_gearbox_model

from loadtest.run import free_port
from serving.inference_service import schema_errors
from shopfloor.platform.deploy import deploy_local, inference_service
from shopfloor_cli.main import main


def test_manifest_has_the_papers_sizing_and_validates():
    manifest = inference_service(MODEL, image="registry.local/shopfloor:1")
    assert schema_errors(manifest) == []
    predictor = manifest["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 10)
    assert predictor["scaleMetric"] == "rps" and predictor["scaleTarget"] > 0
    container = predictor["containers"][0]
    assert container["resources"]["requests"] == container["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
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
    proc = subprocess.run(
        [sys.executable, "-m", "shopfloor_cli.main", "deploy", "--dry-run", "--scale-target", "80"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = yaml.safe_load(proc.stdout)
    assert manifest["kind"] == "InferenceService" and manifest["spec"]["predictor"]["scaleTarget"] == 80
    assert schema_errors(manifest) == []


def test_names_that_mlflow_or_urls_refuse_stop_every_command_at_once(tmp_path):
    env = {**os.environ, "SHOPFLOOR_HOME": str(tmp_path)}
    for command in (
        ["deploy", "--dry-run"],
        ["serve"],
        ["loadtest"],
        ["schedule", "retraining", "--interval", "5", "--data", "x.csv"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "shopfloor_cli.main", *command, "--model-name", "line/3"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
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


def _fake_kubernetes(tmp_path, monkeypatch, status: int = 200):
    """A loopback HTTP server standing in for the Kubernetes API, and a kubeconfig pointing the real client at
    it; returns the list the requests are captured in."""
    import http.server
    import json as _json
    import threading

    captured = []

    class Api(http.server.BaseHTTPRequestHandler):
        def do_PATCH(self):  # noqa: N802 - the handler's interface
            body = self.rfile.read(int(self.headers["content-length"]))
            captured.append(
                {
                    "method": "PATCH",
                    "path": self.path,
                    "content_type": self.headers["content-type"],
                    "body": _json.loads(body),
                }
            )
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"kind": "Status", "code": %d}' % status if status != 200 else b"{}")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "http://127.0.0.1:{server.server_port}"}}}}]
users: [{{name: me, user: {{token: test-token}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: me}}}}]
current-context: fake
""")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return captured, server


def test_canary_promote_and_rollback_send_kserves_canary_patches(tmp_path, monkeypatch, capsys):
    from shopfloor.constants import NAMESPACE

    captured, server = _fake_kubernetes(tmp_path, monkeypatch)
    try:
        assert main(["deploy", "--model-name", MODEL, "--canary", "10"]) == 0
        assert main(["deploy", "--model-name", MODEL, "--rollback"]) == 0
    finally:
        server.shutdown()
    path = f"/apis/serving.kserve.io/v1beta1/namespaces/{NAMESPACE}/inferenceservices/{MODEL}"
    assert [(c["method"], c["path"], c["content_type"]) for c in captured] == [
        ("PATCH", path, "application/merge-patch+json")
    ] * 2
    canary = captured[0]["body"]["spec"]["predictor"]
    assert canary["canaryTrafficPercent"] == 10
    args = canary["containers"][0]["args"]
    assert args[args.index("--alias") + 1] == "challenger"
    assert (
        schema_errors(
            {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": MODEL, "namespace": NAMESPACE},
                "spec": {"predictor": canary},
            }
        )
        == []
    )
    assert captured[1]["body"] == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}


def test_promote_moves_the_alias_then_gives_the_champion_all_the_traffic(home, tmp_path, monkeypatch):
    from shopfloor.registry.history import history

    uri = f"sqlite:///{home / 'mlflow.db'}"
    register_gearbox_model(home, f2=0.9, seed=0, tracking_uri=uri)
    register_gearbox_model(home, f2=0.1, seed=1, tracking_uri=uri)  # v2 on trial as @challenger
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    captured, server = _fake_kubernetes(tmp_path, monkeypatch)
    try:
        assert main(["deploy", "--model-name", MODEL, "--end-canary"]) == 0
    finally:
        server.shutdown()
    predictor = captured[0]["body"]["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 100
    args = predictor["containers"][0]["args"]
    assert args[args.index("--alias") + 1] == "champion"
    last = history(MODEL)[-1]
    assert (last["from"], last["to"], last["kind"], last["command"]) == (
        "1",
        "2",
        "manual",
        "shopfloor deploy --end-canary",
    )


@pytest.mark.parametrize("share", ["-5", "100.5"])
def test_a_canary_share_outside_0_to_100_is_named(share, capsys):
    assert main(["deploy", "--model-name", MODEL, "--canary", share, "--dry-run"]) == 2
    assert "canary" in capsys.readouterr().err


def test_a_rollout_without_an_inferenceservice_is_named(tmp_path, monkeypatch, capsys):
    captured, server = _fake_kubernetes(tmp_path, monkeypatch, status=404)
    try:
        assert main(["deploy", "--model-name", MODEL, "--rollback"]) == 2
    finally:
        server.shutdown()
    assert "no InferenceService" in capsys.readouterr().err
