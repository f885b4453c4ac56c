"""One time budget per run, divided among its steps by a stated rule.

A run's steps are processes of their own (kfp.local, pods on Kubeflow), so the budget travels as two numbers: its
length in seconds and the wall-clock time the run started (the ingest step's start, ``time.time()``). Each step ends
by a deadline at a fixed cumulative share of the budget (``SHARES``): the fault-detection tuning by 25 %, the
synthesizers' refits by 45 %, the filters by 55 %, the classifiers' cross-validation by 85 % and their final refits
by 95 %; the health index's cross-validation by 80 % and its final refit by 90 %; the anomaly detector's VAE search
by 70 % (the simple detectors, the RMS of one signal among them, are fitted after it whatever the time). A step
that finishes before its deadline passes the rest on to the next, because the next deadline counts from the run's
start, not from its own.

A step asks ``left(step)`` before each unit of work that grows with the data (one synthesizer refit, one classifier
fit, one fold of a health-index method) and, at its pace so far, leaves out what would end past the deadline, the
costliest work first and with its reason; the cheapest rival always completes. So a run ends at most one unit of work
after its budget and never fails because of it: on a slow or busy machine it registers a simpler model and says why.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from shopfloor.errors import DataError

#: Cumulative shares of the run's budget by which each step must end, per pipeline (the rest is registration's).
SHARES: dict[str, dict[str, float]] = {
    "fault-detection": {"tune": 0.25, "synthesize": 0.45, "filter": 0.55, "cv": 0.85, "train": 0.95},
    "health-index": {"cv": 0.8, "train": 0.9},
    "anomaly-detection": {"search": 0.7, "train": 0.85},
}
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_seconds(text: str | float, field: str = "budget") -> float:
    """``"15m"``, ``"90s"``, ``"1h"``, ``"600"`` -> seconds; ``"0"`` or ``"none"``: no budget (0)."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*", str(text).lower())
        if str(text).strip().lower() in ("none", "off"):
            return 0.0
        if match is None:
            raise DataError(field, f"give a duration such as 15m, 600s or 1h (0 or none: no limit), got {text!r}")
        value = float(match.group(1)) * _UNITS[match.group(2) or ""]
    if value < 0:
        raise DataError(field, f"must not be negative, got {text!r}")
    return value


class BudgetSpent(RuntimeError):
    """Raised by work that the budget left out (a synthesizer's branch): reported as left out, not as failed."""


@dataclass(frozen=True)
class Budget:
    """``seconds`` (0: no limit) counted from ``started`` (epoch seconds) and shared by ``pipeline``'s steps."""

    pipeline: str
    seconds: float
    started: float

    @classmethod
    def start(cls, pipeline: str, seconds: float, started: float = 0.0) -> Budget:
        """The budget of a run that started at ``started`` (0: now)."""
        if pipeline not in SHARES:
            raise ValueError(f"no budget shares for pipeline {pipeline!r}")
        return cls(pipeline, float(seconds), float(started) or time.time())

    @classmethod
    def of_run(cls, pipeline: str, seconds: float, metadata: dict) -> Budget | None:
        """A pipeline step's budget: ``seconds`` (0: none) from the run's start, which the ingest step wrote into
        the metadata of the splits every later step reads (``run_started``)."""
        return cls.start(pipeline, seconds, float(metadata.get("run_started", 0.0))) if seconds > 0 else None

    @property
    def bounded(self) -> bool:
        return self.seconds > 0

    def deadline(self, step: str) -> float | None:
        """Epoch seconds by which ``step`` must end (None without a budget)."""
        if not self.bounded:
            return None
        return self.started + self.seconds * SHARES[self.pipeline].get(step, 1.0)

    def left(self, step: str) -> float:
        """Seconds left to ``step`` (may be negative; ``inf`` without a budget)."""
        deadline = self.deadline(step)
        return float("inf") if deadline is None else deadline - time.time()

    def remaining(self) -> float:
        """Seconds left to the whole run (``inf`` without a budget)."""
        return float("inf") if not self.bounded else self.started + self.seconds - time.time()

    def estimate(self) -> str:
        """What the run's progress line says after a step: its time so far and what is left of the budget."""
        spent = time.time() - self.started
        if not self.bounded:
            return f"{spent:.0f} s so far, no time budget"
        return f"{spent:.0f} s of the {self.seconds:.0f} s budget, at most {max(0.0, self.remaining()):.0f} s left"


class Pace:
    """How long one unit of a kind of work has taken, to tell whether the next ones fit before a deadline."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, seconds: float) -> None:
        self.total += seconds
        self.count += 1

    @property
    def each(self) -> float:
        return self.total / self.count if self.count else 0.0

    def fits(self, units: int, left: float) -> bool:
        """Would ``units`` more units, at the pace so far, end within ``left`` seconds? (True before any unit.)"""
        return self.each * units <= left


class Interrupted(BudgetSpent):
    """Raised inside a fit that ran past the deadline set by ``until`` (checked by the fit's own loop)."""


_DEADLINE: ContextVar[float | None] = ContextVar("shopfloor_deadline", default=None)


@contextmanager
def until(deadline: float | None) -> Iterator[None]:
    """Within this block, long fits that call ``check`` (DeepSAD's epochs) stop with ``Interrupted`` once the wall
    clock passes ``deadline`` (epoch seconds; None: never). A deadline set outside is kept if it is earlier."""
    outer = _DEADLINE.get()
    chosen = deadline if outer is None else outer if deadline is None else min(outer, deadline)
    token = _DEADLINE.set(chosen)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check(what: str) -> None:
    """``Interrupted`` when the deadline of the enclosing ``until`` has passed."""
    deadline = _DEADLINE.get()
    if deadline is not None and time.time() > deadline:
        raise Interrupted(f"{what} stopped: the time limit passed")
