"""Why Shopfloor leaves OpenMP's wait policy alone (``shopfloor.platform.cpus.use_cpus``): 5 gradient-boosting
fits on 3,000 x 66 rows and 1,000 small torch training steps, each in a fresh process with the policy unset and
with ``OMP_WAIT_POLICY=PASSIVE``, on a quiet machine and beside one busy single-threaded neighbour; same run.

    .venv/bin/python benchmarks/omp_wait_policy.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

WORK = """
import json, time, numpy as np, torch
from sklearn.ensemble import HistGradientBoostingClassifier
rng = np.random.default_rng(0); x = rng.normal(size=(3000, 66)); y = (x[:, 0] + rng.normal(size=3000) > 2).astype(int)
t = time.perf_counter()
for _ in range(5): HistGradientBoostingClassifier(random_state=0).fit(x, y)
hgb = time.perf_counter() - t
net = torch.nn.Sequential(torch.nn.Linear(66, 128), torch.nn.ReLU(), torch.nn.Linear(128, 66))
opt = torch.optim.Adam(net.parameters()); batch = torch.randn(256, 66)
t = time.perf_counter()
for _ in range(1000):
    opt.zero_grad(); net(batch).pow(2).mean().backward(); opt.step()
print(json.dumps({"hgb_s": round(hgb, 2), "torch_s": round(time.perf_counter() - t, 2),
                  "threads": torch.get_num_threads()}))
"""
BUSY = "import time\nt = time.time()\nwhile time.time() - t < 120: pass"


def measure(policy: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", WORK], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    figures = {"quiet": {name: measure(policy) for name, policy in (("unset", None), ("passive", "PASSIVE"))}}
    neighbour = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        figures["one_busy_neighbour"] = {
            name: measure(policy) for name, policy in (("unset", None), ("passive", "PASSIVE"))
        }
    finally:
        neighbour.kill()
    save("omp_wait_policy", {"command": "benchmarks/omp_wait_policy.py", **figures})


if __name__ == "__main__":
    main()
