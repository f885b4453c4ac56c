"""Run Locust headless against a model server, write its CSV and HTML reports, check the SLA.

``local_server`` starts ``shopfloor serve`` on a free loopback port for the duration of a block,
which ``shopfloor loadtest --serve-local`` (and ``make loadtest``) uses.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from loadtest.sla import SlaResult, check
from shopfloor.constants import CHAMPION, FAULT_MODEL

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USERS = {"v1": ["V1User"], "v2": ["V2User"], "both": ["V1User", "V2User"]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, model: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"model server exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/v2/models/{model}/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


@contextlib.contextmanager
def local_server(model: str, alias: str = CHAMPION, workers: int = 1, extra: list[str] | None = None,
                 env: dict[str, str] | None = None, log: Path | None = None) -> Iterator[str]:
    """``shopfloor serve`` on a free 127.0.0.1 port; yields its URL and stops it afterwards."""
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "shopfloor_cli.main", "serve", "--model-name", model, "--alias", alias,
           "--port", str(port), "--workers", str(workers), *(extra or [])]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, model, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()


def run_locust(host: str, out_dir: Path, *, users: int = 20, rate: float = 10.0, duration: str = "60s",
               protocol: str = "both", model: str = FAULT_MODEL, p95_ms: float = 56.0,
               max_error_rate: float = 0.0, spawn_rate: float | None = None) -> SlaResult:
    """Locust headless with ``users`` users at ``rate`` requests/s each; returns the SLA verdict."""
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHOPFLOOR_RATE": str(rate), "SHOPFLOOR_MODEL": model}
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
           "-u", str(users), "-r", str(spawn_rate or users), "--run-time", duration, "--only-summary",
           "--csv", str(out_dir / "locust"), "--html", str(out_dir / "report.html"), "--loglevel", "WARNING",
           *USERS[protocol]]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    stats = out_dir / "locust_stats.csv"
    if not stats.exists():
        raise RuntimeError(f"locust wrote no statistics (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return check(stats, p95_ms=p95_ms, max_error_rate=max_error_rate)
