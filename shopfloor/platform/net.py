"""Loopback helpers for the servers Shopfloor starts on one machine (MLflow, the model server)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, what: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Wait until GET ``url`` answers 200; ``RuntimeError`` if ``proc`` (the server, ``what``) exits first,
    ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"{what} at {url} not ready after {timeout:.0f} s")
