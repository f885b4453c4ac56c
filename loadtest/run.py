"""Run Locust headless against a model server, write its CSV and HTML reports, check the SLA.

``local_server`` starts ``shopfloor serve`` on a free loopback port for the duration of a block,
which ``shopfloor loadtest --serve-local`` (and ``make loadtest``) uses.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from loadtest.sla import SlaResult, check
from shopfloor.constants import CHAMPION, FAULT_MODEL
from shopfloor.platform.net import free_port, wait_http

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USERS = {"v1": ["V1User"], "v2": ["V2User"], "both": ["V1User", "V2User"]}
#: What the users send: table rows (``locustfile.py``) or image files (``images.py``, surface inspection).
PROFILES = {
    "rows": (LOCUSTFILE, USERS),
    "images": (
        Path(__file__).with_name("images.py"),
        {"v1": ["ImageV1User"], "v2": ["ImageV2User"], "both": ["ImageV1User", "ImageV2User"]},
    ),
}


def wait_ready(url: str, model: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    wait_http(f"{url}/v2/models/{model}/ready", "model server", timeout, proc)


@contextlib.contextmanager
def local_server(
    model: str,
    alias: str = CHAMPION,
    workers: int = 1,
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:
    """``shopfloor serve`` on a free 127.0.0.1 port; yields its URL and stops it afterwards."""
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    cmd = [
        sys.executable,
        "-m",
        "shopfloor_cli.main",
        "serve",
        "--model-name",
        model,
        "--alias",
        alias,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *(extra or []),
    ]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, model, proc=proc)
        yield url
    finally:
        stop(proc)
        if log:
            out.close()


def stop(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds: a server gets the chance to drain its requests."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def default_processes(server_cores: int = 1) -> int:
    """Locust processes: every core but the ones the server uses (at least one)."""
    return max(1, (os.cpu_count() or 1) - server_cores)


class CpuWatch:
    """Samples the CPU use of a process tree once a second (the load generator's own saturation)."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        seen: dict[int, psutil.Process] = {}
        while not self._stop.wait(1.0):
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            busiest = 0.0
            for proc in procs:
                tracked = seen.setdefault(proc.pid, proc)
                try:
                    busiest = max(busiest, tracked.cpu_percent(None))
                except psutil.NoSuchProcess:
                    continue
            self.samples.append(busiest)

    def __enter__(self) -> CpuWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def busiest_percent(self) -> float:
        """Median over the run (after its first second) of the busiest Locust process's CPU share."""
        values = self.samples[1:] or self.samples
        return float(sorted(values)[len(values) // 2]) if values else 0.0


def run_locust(
    host: str,
    out_dir: Path,
    *,
    users: int = 20,
    rate: float = 10.0,
    duration: str = "60s",
    protocol: str = "both",
    model: str = FAULT_MODEL,
    p95_ms: float = 56.0,
    max_error_rate: float = 0.0,
    spawn_rate: float | None = None,
    processes: int | None = None,
    profile: str = "rows",
) -> SlaResult:
    """Locust headless (FastHttpUser) with ``users`` users at ``rate`` requests/s each, in ``processes``
    forked processes (default: every core but the server's); returns the SLA verdict with the offered and
    achieved rates and the load generator's own CPU use."""
    import importlib.util

    from shopfloor.errors import ShopfloorError

    if importlib.util.find_spec("locust") is None:
        raise ShopfloorError(
            "locust is not installed here (the serving image leaves it out): "
            "pip install 'shopfloor[loadtest]', or run the load test from a workstation"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    processes = processes or default_processes()
    env = {**os.environ, "SHOPFLOOR_RATE": str(rate), "SHOPFLOOR_MODEL": model}
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(PROFILES[profile][0]),
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(spawn_rate or users),
        "--run-time",
        duration,
        "--only-summary",
        "--csv",
        str(out_dir / "locust"),
        "--html",
        str(out_dir / "report.html"),
        "--loglevel",
        "WARNING",
        *(["--processes", str(processes)] if processes > 1 else []),
        *PROFILES[profile][1][protocol],
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with CpuWatch(proc.pid) as watch:
        _, stderr = proc.communicate()
    stats = out_dir / "locust_stats.csv"
    if not stats.exists():
        raise RuntimeError(f"locust wrote no statistics (exit {proc.returncode}): {stderr[-2000:]}")
    return check(
        stats,
        p95_ms=p95_ms,
        max_error_rate=max_error_rate,
        offered_rps=users * rate,
        generator_cpu=watch.busiest_percent,
        processes=processes,
    )


def step_profile(
    host: str,
    out_dir: Path,
    *,
    rates: list[float],
    rate_per_user: float = 10.0,
    step: str = "20s",
    protocol: str = "v1",
    model: str = FAULT_MODEL,
    p95_ms: float = 56.0,
    processes: int | None = None,
    log=print,
) -> dict:
    """Offer rising rates (users at ``rate_per_user`` requests/s each) until the SLA breaks or the load
    generator saturates; the highest rate that held the SLA, with the generator below saturation."""
    steps, best, reason = [], None, None
    for offered in rates:
        users = max(1, round(offered / rate_per_user))
        result = run_locust(
            host,
            out_dir / f"step_{int(offered)}",
            users=users,
            rate=rate_per_user,
            duration=step,
            protocol=protocol,
            model=model,
            p95_ms=p95_ms,
            spawn_rate=max(10, users),
            processes=processes,
        )
        steps.append(result.to_dict())
        log(result.summary())
        if result.generator_saturated:
            reason = "the load generator saturated: more load needs more Locust processes or another machine"
            break
        if not result.passed:
            reason = "the SLA broke"
            break
        best = result.rps
    return {
        "highest_rate_holding_sla": best,
        "stopped_because": reason or "every step held",
        "steps": steps,
        "p95_limit_ms": p95_ms,
    }
