"""Wall time of `shopfloor run fault-detection` on the embedded default, end to end, default budget (the classifier
families of `--classifier auto` through the cross-validation): with the default synthesizer on 3,000 simulated
gearboxes (what `make demo` runs) and with `--synthesizer all` (three parallel branches) on 2,000.

Goal: `--synthesizer all` with `--classifier auto` on a 2,000-row table within 5 minutes on 2 cores. Each run
starts in a fresh data directory, so the Optuna study, MLflow store and simulated data are all made from scratch.

    .venv/bin/python benchmarks/fault_detection_e2e.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402


def run(*extra: str, tracking_uri: str | None = None) -> dict:
    """One ``shopfloor run fault-detection`` in a fresh data directory (against ``tracking_uri`` if given)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SHOPFLOOR_HOME": home}
        env.pop("MLFLOW_TRACKING_URI", None)
        if tracking_uri:
            env["MLFLOW_TRACKING_URI"] = tracking_uri
        out = Path(home) / "result.json"
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "shopfloor_cli.main", "run", "fault-detection", *extra, "--json", str(out)],
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
        result = json.loads(out.read_text())
    methods = result["report"]["methods"]
    steps = [line for line in proc.stdout.splitlines() if line.startswith("  ") and " s  " in line]
    return {
        "command": " ".join(["shopfloor run fault-detection", *extra]),
        "wall_seconds": round(wall, 1),
        "steps": steps,
        "output": proc.stdout.splitlines()[-40:],
        "chosen": result["chosen"],
        "alias": result["alias"],
        "methods_failed": result.get("methods_failed", 0),
        "test": {
            name: {k: round(m["test"][k], 3) for k in ("f1", "f2", "recall", "g_mean", "pr_auc")}
            for name, m in methods.items()
        },
        "cv_f2": {name: round(m["cv"]["score"], 3) for name, m in methods.items()},
    }


def main() -> None:
    default = run()
    everything = run("--synthesizer", "all", "--rows", "2000")
    save(
        "fault_detection_e2e",
        {
            "default": default,
            "all_synthesizers_2000_rows": everything,
            "goal_seconds_all": 300,
            "meets_goal": everything["wall_seconds"] < 300,
        },
    )


if __name__ == "__main__":
    main()
