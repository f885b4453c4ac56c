"""How many threads a training step's pools should take: each kind of work Shopfloor trains (gradient boosting on a
table, a small MLP on table rows as in the synthesizers, 1-D convolutions on signal windows) timed per unit of work
with 1 and 2 threads, alone and beside a second process doing the same work (two Shopfloor jobs on one machine),
and with OpenMP's passive wait policy; every figure in a fresh process, same run. The rule it supports is in
``shopfloor.platform.cpus.TRAINING_SHARE``.

    .venv/bin/python benchmarks/thread_policy.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

WORK = """
import os, sys, time
kind, seconds = sys.argv[1], float(sys.argv[2])
import numpy as np, torch
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
rng = np.random.default_rng(0)
if kind == "hgb":
    from sklearn.ensemble import HistGradientBoostingClassifier
    x = rng.normal(size=(24000, 66)); y = (x[:, 0] + rng.normal(size=24000) > 1.8).astype(int)
    def work(): HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0).fit(x, y)
else:
    if kind == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(66, 256), torch.nn.LeakyReLU(), torch.nn.Linear(256, 256),
                                  torch.nn.LeakyReLU(), torch.nn.Linear(256, 1)); batch = torch.randn(64, 66); n = 300
    else:
        net = torch.nn.Sequential(torch.nn.Conv1d(6, 64, 5, padding=2), torch.nn.ReLU(),
                                  torch.nn.Conv1d(64, 64, 5, padding=2), torch.nn.ReLU())
        batch = torch.randn(64, 6, 64); n = 30
    opt = torch.optim.Adam(net.parameters())
    def work():
        for _ in range(n):
            opt.zero_grad(); net(batch).mean().backward(); opt.step()
work()
t = time.perf_counter(); k = 0
while time.perf_counter() - t < seconds or k < 2:
    work(); k += 1
print((time.perf_counter() - t) / k)
"""
KINDS = {
    "hgb": "gradient boosting, 100 trees on 24,000 x 66 rows",
    "mlp": "300 steps of a 66-256-256-1 MLP, batch 64",
    "conv": "30 steps of two 64-filter Conv1d layers on 64 windows of 6 x 64",
}


def _start(kind: str, threads: int, passive: bool, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env.pop("OMP_WAIT_POLICY", None)
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return subprocess.Popen(
        [sys.executable, "-c", WORK, kind, str(seconds)], env=env, stdout=subprocess.PIPE, text=True
    )


def measure(kind: str, threads: int, beside: bool, passive: bool = False, seconds: float = 8.0) -> float:
    """Seconds per unit of work; ``beside``: while a second process runs the same work with the same threads."""
    procs = [_start(kind, threads, passive, seconds) for _ in range(2 if beside else 1)]
    timed = procs[0].communicate()[0]
    for neighbour in procs[1:]:
        neighbour.communicate()
    return round(float(timed), 3)


def main() -> None:
    figures: dict = {"cpus": len(os.sched_getaffinity(0)), "work": KINDS, "seconds_per_unit": {}, "ratios": {}}
    for kind in KINDS:
        row = {
            f"{label}_{threads}_threads": measure(kind, threads, beside)
            for threads in (1, 2)
            for label, beside in (("alone", False), ("beside", True))
        }
        row["alone_2_threads_passive"] = measure(kind, 2, False, passive=True)
        row["beside_2_threads_passive"] = measure(kind, 2, True, passive=True)
        best_alone = min(row["alone_1_threads"], row["alone_2_threads"])
        figures["seconds_per_unit"][kind] = row
        figures["ratios"][kind] = {
            "one_thread_alone_vs_best_alone": round(row["alone_1_threads"] / best_alone, 2),
            "beside_vs_best_alone_1_thread": round(row["beside_1_threads"] / best_alone, 2),
            "beside_vs_best_alone_2_threads": round(row["beside_2_threads"] / best_alone, 2),
        }
    save("thread_policy", figures)


if __name__ == "__main__":
    main()
