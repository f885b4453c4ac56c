"""One pipeline run per model at a time on this machine.

A schedule and a manual run (or two schedules) for the same model must never train it at once: both would
read the same champion and race for its alias, and double the load of the machine. ``hold`` takes an
exclusive ``flock`` on ``$SHOPFLOOR_HOME/locks/<model>.lock`` for the life of the process. The kernel drops
a ``flock`` when its process ends, however it ends (SIGKILL included), so a killed run never leaves a lock
that blocks the next one. On Kubeflow the same promise comes from the recurring run's ``max_concurrency=1``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from pathlib import Path

from shopfloor import config
from shopfloor.errors import ShopfloorError

_HELD: dict[str, int] = {}  # model -> open file descriptor, kept until the process ends


class Busy(ShopfloorError):
    """Another run of the same model holds its lock."""


def lock_path(model_name: str) -> Path:
    folder = config.home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", model_name) + ".lock")


def hold(model_name: str, what: str = "run") -> Path:
    """Take ``model_name``'s run lock for the rest of this process; ``Busy`` names the holder if taken."""
    if model_name in _HELD:
        return lock_path(model_name)
    path = lock_path(model_name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace")
        os.close(fd)
        try:
            who = json.loads(holder)
            detail = f"process {who['pid']} ({who['what']}) since {who['since']}"
        except (ValueError, KeyError):
            detail = "another process"
        raise Busy(
            f"model {model_name!r} is being trained by {detail}; one run per model at a time (lock {path})"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(
        fd, json.dumps({"pid": os.getpid(), "what": what, "since": time.strftime("%Y-%m-%dT%H:%M:%S")}).encode(), 0
    )
    _HELD[model_name] = fd
    return path


def release(model_name: str) -> None:
    fd = _HELD.pop(model_name, None)
    if fd is not None:
        os.close(fd)
