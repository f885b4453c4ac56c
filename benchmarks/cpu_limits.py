"""The default fault-detection run inside the Shopfloor image, given one CPU in the two ways a cluster gives it:
a CFS quota (``docker run --cpus 1``, what a Kubernetes CPU limit is) and a CPU set (``--cpuset-cpus 0``, what the
static CPU manager or ``taskset`` gives). Under a quota the process still sees every core of the node; a process
that sized its thread pools from the core count would start that many threads and be throttled. Reported: the
wall time of each and the thread counts Shopfloor chose in each (``shopfloor.platform.cpus``), same run. Goal:
the quota run within 1.2x of the CPU-set run. Needs a Docker daemon and the image (``make image``).

    .venv/bin/python benchmarks/cpu_limits.py [--image IMAGE] [--repeats N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from shopfloor.platform import hardening  # noqa: E402

LIMITS = {"quota --cpus 1": ["--cpus", "1"], "cpuset --cpuset-cpus 0": ["--cpuset-cpus", "0"]}
PROBE = (
    "import os, torch; from shopfloor.platform.cpus import affinity_cpus, cgroup_quota, use_cpus; "
    "n = use_cpus(); print(os.cpu_count(), affinity_cpus(), cgroup_quota(), n, torch.get_num_threads())"
)


def flags() -> list[str]:
    """The hardened ``docker run`` flags, with an explicit 4 GiB for the scratch mounts, where a whole run's
    store lives."""
    return [
        f"{flag},size=4g" if flag.split(":")[0] in hardening.WRITABLE else flag for flag in hardening.docker_run_flags()
    ]


def docker(image: str, limit: list[str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", *flags(), *limit, image, *command], capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost:32000/shopfloor-python:0.1.0")  # make image
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    results = {}
    for name, limit in LIMITS.items():
        probe = docker(args.image, limit, "python", "-c", PROBE)
        if probe.returncode != 0:
            sys.exit(probe.stderr[-2000:])
        cpu_count, affinity, quota, threads, torch_threads = probe.stdout.split()
        walls = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            run = docker(args.image, limit, "shopfloor", "run", "fault-detection")
            walls.append(round(time.perf_counter() - started, 1))
            if run.returncode != 0:
                sys.exit(run.stdout[-2000:] + run.stderr[-2000:])
        steps = [line for line in run.stdout.splitlines() if line.startswith("  ") and " s  " in line]
        results[name] = {
            "docker_flags": limit,
            "wall_seconds": walls,
            "os_cpu_count": int(cpu_count),
            "affinity_cpus": int(affinity),
            "cgroup_quota": None if quota == "None" else float(quota),
            "shopfloor_threads": int(threads),
            "torch_threads": int(torch_threads),
            "steps": steps,
        }
        print(name, results[name]["wall_seconds"], "s; threads", threads, flush=True)
    quota_s = min(results["quota --cpus 1"]["wall_seconds"])
    cpuset_s = min(results["cpuset --cpuset-cpus 0"]["wall_seconds"])
    save(
        "cpu_limits",
        {
            "command": "benchmarks/cpu_limits.py " + " ".join(sys.argv[1:]),
            "image": args.image,
            "runs": results,
            "quota_over_cpuset": round(quota_s / cpuset_s, 3),
            "goal_ratio_at_most": 1.2,
            "meets_goal": quota_s / cpuset_s <= 1.2,
        },
    )


if __name__ == "__main__":
    main()
