"""How many CPUs this process may use, and thread pools sized from it.

``os.cpu_count()`` counts the node's cores. A pod with a 1-CPU limit on a 16-core node still sees 16, and torch or
OpenMP would start 16 threads that the CFS quota then throttles. The CPUs a process is given are the smaller of its
affinity mask (``taskset``, ``--cpuset-cpus``) and its cgroup CPU quota (``cpu.max`` on cgroup v2,
``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` on v1, ``docker --cpus`` and Kubernetes limits), rounded up.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from shopfloor.config import THREADS_ENV, environment

CGROUP_ROOT = Path("/sys/fs/cgroup")


def affinity_cpus() -> int:
    """CPUs in this process's affinity mask (``os.cpu_count()`` where the platform has no mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _own_cgroup(root: Path) -> Path:
    """This process's cgroup v2 directory under ``root`` (the root itself when it cannot be read)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            hierarchy, _, path = line.split(":", 2)
            if hierarchy == "0":
                candidate = root / path.lstrip("/")
                if candidate.is_dir():
                    return candidate
    except (OSError, ValueError):
        pass
    return root


def cgroup_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs allowed by the cgroup quota, or None when there is none (or nothing can be read).

    cgroup v2: ``cpu.max`` holds ``"<quota> <period>"`` or ``"max <period>"``, read in this process's own cgroup
    and each parent up to ``root`` (the tightest wins). cgroup v1: ``cpu/cpu.cfs_quota_us`` (-1 for none) and
    ``cpu/cpu.cfs_period_us``.
    """
    quotas: list[float] = []
    directory = _own_cgroup(root) if root == CGROUP_ROOT else root
    while True:
        try:
            quota, period = (directory / "cpu.max").read_text().split()[:2]
            if quota != "max" and float(quota) > 0 and float(period) > 0:
                quotas.append(float(quota) / float(period))
        except (OSError, ValueError):
            pass
        if directory == root or root not in directory.parents:
            break
        directory = directory.parent
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota_us = float((v1 / "cpu.cfs_quota_us").read_text())
            period_us = float((v1 / "cpu.cfs_period_us").read_text())
            if quota_us > 0 and period_us > 0:
                quotas.append(quota_us / period_us)
        except (OSError, ValueError):
            pass
    return min(quotas) if quotas else None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: its affinity mask capped by its cgroup quota (rounded up), at least 1."""
    cpus = affinity_cpus()
    quota = cgroup_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


#: A thread budget a parent process hands its children (``shopfloor run`` divides the CPUs among a pipeline's
#: parallel branches); a child never takes more than its own CPUs allow.
BUDGET_ENV = THREADS_ENV  # the name a parent sets for its children
POOL_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


#: The share of its CPUs a training step's pools take. Measured on 2 cores (benchmarks/thread_policy.py): alone, two
#: threads beat one by 1.09x (a small MLP) to 1.64x (gradient boosting, 1-D convolutions); beside a second job doing
#: the same, two threads each ran 8.3x to 14.6x slower than the best alone, one thread each 1.1x to 1.6x. Spinning
#: OpenMP pools that take every core lose far more beside a neighbour than they gain alone; OpenMP's passive wait
#: policy was slower than one thread except for convolutions alone. So a training step leaves half the machine to a
#: neighbour (the model server, another run); ``SHOPFLOOR_THREADS`` gives a dedicated machine's steps more.
TRAINING_SHARE = 0.5


def threads_for(branches: int = 1, root: Path = CGROUP_ROOT, share: float = 1.0) -> int:
    """Threads for one of ``branches`` parallel workers sharing ``share`` of this process's CPUs (at least 1),
    within the budget a parent gave (``SHOPFLOOR_THREADS``, which also overrides ``share``)."""
    budget = _budget()
    cpus = available_cpus(root)
    threads = max(1, int(cpus * (1.0 if budget else share)) // max(1, branches))
    return max(1, min(threads, budget)) if budget > 0 else threads


def _budget() -> int:
    try:
        return max(0, int(environment().threads or "0"))
    except ValueError:
        return 0


def use_cpus(branches: int = 1, share: float = 1.0) -> int:
    """Size torch's and the BLAS / OpenMP pools for this process; returns the thread count.

    Called when every pipeline step starts (``shopfloor.progress.reported``), by the model server and by the
    benchmarks. The pool variables are set before torch or a BLAS starts its pool (they read them once), and the
    pools already started are resized (torch, threadpoolctl).
    """
    threads = threads_for(branches, share=share)
    for name in POOL_ENVS:
        os.environ[name] = str(threads)
    # OpenMP's own wait policy stays (spin briefly, then sleep). Forcing OMP_WAIT_POLICY=PASSIVE was measured on
    # 2 cores (benchmarks/omp_wait_policy.py): quiet, 5 gradient-boosting fits on 3,000 x 66 rows took 9.9 s
    # against 1.5 s and 1,000 small torch steps 1.0 s against 0.4 s; beside one busy neighbour it saved a little
    # (3.6 s vs 4.6 s). What protects a neighbour is the thread count above, not the wait policy.
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        pass
    return threads
