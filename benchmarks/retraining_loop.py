"""The whole loop on the gearbox simulator with drift injected, through the real command line:

fault detection with a ResNet classifier (kfp.local, MLflow on SQLite) -> a model server following
@champion -> a drifted batch (a supplier change, ``drift=2``) -> retraining (drift report, EnKF warm
start, champion vs challenger on the same held-out rows) -> the server picks up the promoted version.
Figures: drift detected and which features, the champion's F2 before and after the drift, retraining
time (EnKF alone and the whole pipeline), the decision, and how long serving took to follow.

    python benchmarks/retraining_loop.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import save  # noqa: E402


def shopfloor(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "shopfloor_cli.main", *args], env=env, check=True)


def main() -> dict:
    from loadtest.run import free_port, wait_ready
    from shopfloor.data.simulate import simulate_gearbox

    home = Path(tempfile.mkdtemp(prefix="shopfloor-loop-"))
    env = {**os.environ, "SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    start = time.perf_counter()
    shopfloor(
        "run",
        "fault-detection",
        "--classifier",
        "resnet",
        "--trials",
        "3",
        "--timeout",
        "30",
        "--json",
        str(home / "fd.json"),
        env=env,
    )
    first = json.loads((home / "fd.json").read_text())
    out = {
        "fault_detection_seconds": time.perf_counter() - start,
        "champion_version": first["version"],
        "champion_test_f2": first["test_f2"],
        "chosen": first["chosen"],
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "shopfloor_cli.main", "serve", "--port", str(port), "--poll-seconds", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", "gearbox-fault-classifier", timeout=120, proc=server)
        data = home / "drifted.csv"
        simulate_gearbox(rows=1500, seed=42, drift=2.0).to_csv(data, index=False)
        start = time.perf_counter()
        shopfloor(
            "run",
            "retraining",
            "--data",
            str(data),
            "--model-name",
            "gearbox-fault-classifier",
            "--json",
            str(home / "rt.json"),
            env=env,
        )
        out["retraining_pipeline_seconds"] = time.perf_counter() - start
        result = json.loads((home / "rt.json").read_text())
        out |= {
            "drift_detected": result["check"]["drift"],
            "drifted_features": result["check"]["drifted"],
            "max_ks": result["check"]["max_ks"],
            "max_psi": result["check"]["max_psi"],
            "retrain_method": result["retrain"]["method"],
            "enkf_seconds": result["retrain"]["seconds"],
            "enkf_iterations": result["retrain"].get("iterations"),
            "heldout_f2_champion": result["champion"],
            "heldout_f2_challenger": result["challenger"],
            "promoted": result["promoted"],
            "decision": result["reason"],
            "new_version": result["version"],
        }
        start, served = time.perf_counter(), None
        import urllib.request

        row = simulate_gearbox(rows=1, seed=1).drop(columns="faulty").iloc[0].to_dict()
        body = json.dumps({"instances": [row]}).encode()
        while time.perf_counter() - start < 30:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/models/gearbox-fault-classifier:predict",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as answer:
                served = answer.headers["x-model-version"]
            if result["promoted"] and served == str(result["version"]):
                break
            time.sleep(0.2)
        out["served_version_after"] = served
        out["serving_followed_seconds"] = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(10)
    return out


if __name__ == "__main__":
    figures = main()
    print(json.dumps({k: v for k, v in figures.items() if k != "drifted_features"}, indent=2))
    print(save("retraining_loop", figures))
