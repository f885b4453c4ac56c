"""Wall time of `shopfloor run fault-detection` on the embedded default, end to end, default trial budget.

Goal (foundation issue): under 3 minutes on 2 cores. Runs in a fresh data directory, so the
Optuna study, MLflow store and simulated data are all made from scratch.

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


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SHOPFLOOR_HOME": home}
        env.pop("MLFLOW_TRACKING_URI", None)
        out = Path(home) / "result.json"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "shopfloor_cli.main", "run", "fault-detection",
                               "--json", str(out)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(proc.stderr[-3000:])
        result = json.loads(out.read_text())
    models = result["report"]["models"]
    save("fault_detection_e2e", {
        "command": "shopfloor run fault-detection  (3000 simulated rows, 10 trials / 75 s Optuna budget)",
        "wall_seconds": round(wall, 1), "goal_seconds": 180, "meets_goal": wall < 180,
        "chosen": result["chosen"], "registered_version": result["version"], "alias": result["alias"],
        "test": {name: {k: round(m["test"][k], 3) for k in ("f1", "f2", "recall", "g_mean")}
                 for name, m in models.items()}})


if __name__ == "__main__":
    main()
