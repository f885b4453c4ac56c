"""Progress of long work, for people: a bar while something trains, one line when a step ends.

A pipeline step runs in a process of its own (a kfp.local subprocess here, a pod on Kubeflow). When
the environment names an event file (``SHOPFLOOR_EVENTS``, set by ``shopfloor run``), bars and step
results are appended to it as JSON lines and the command draws them on the terminal, while the
executors' own logs go to a file. Without it (a notebook, a benchmark, a pod), bars are ordinary tqdm
bars on stderr and a step's result is printed as one line.

    @reported("ingest", summary=lambda info: f"{info['rows']} rows")   # times and reports each call,
    def ingest_step(...): ...                                            # and a failure's own message

    for epoch in bar(range(epochs), desc="WGAN", unit="epoch"):
        ...
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

EVENTS_ENV = "SHOPFLOOR_EVENTS"
#: Seconds between two progress events of one bar (the terminal redraws no faster anyway).
EVENT_INTERVAL = 0.5


def events_path() -> str | None:
    return os.environ.get(EVENTS_ENV) or None


def emit(event: dict[str, Any]) -> None:
    """Append one event (one JSON line, written in one call so parallel steps never interleave)."""
    path = events_path()
    if path is None:
        return
    line = json.dumps({"time": time.time(), "pid": os.getpid(), **event}, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


class _EventBar:
    """The part of tqdm's interface that Shopfloor uses, reported as events instead of drawn."""

    def __init__(self, iterable: Iterable | None, total: int | None, desc: str, unit: str) -> None:
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.desc, self.unit, self.n, self.postfix = desc, unit, 0, ""
        self._key = f"{os.getpid()}:{id(self)}"
        self._last = 0.0

    def _send(self, kind: str = "progress") -> None:
        emit({"event": kind, "bar": self._key, "desc": self.desc, "n": self.n, "total": self.total,
              "unit": self.unit, "postfix": self.postfix})
        self._last = time.monotonic()

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._last >= EVENT_INTERVAL:
            self._send()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def close(self) -> None:
        if self._key:
            self._send("close")
            self._key = ""

    def __enter__(self) -> _EventBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Off:
    """A bar that draws nothing (``enabled=False``)."""

    def __init__(self, iterable: Iterable | None) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self.iterable)

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
        enabled: bool = True, leave: bool = False):
    """A progress bar over ``iterable`` (or updated by hand up to ``total``): events in a pipeline run,
    tqdm otherwise, nothing when ``enabled`` is False."""
    if not enabled:
        return _Off(iterable)
    if events_path():
        return _EventBar(iterable, total, desc, unit)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=sys.stderr)


@dataclass
class StepReport:
    """What a step says about itself when it ends: a short ``summary`` and any ``data`` for the caller."""

    name: str
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@contextmanager
def step(name: str) -> Iterator[StepReport]:
    """Time a pipeline step and report how it ended; a failure is reported with its own message (and
    the field a ``ShopfloorError`` names) and raised on."""
    report = StepReport(name)
    start = time.perf_counter()
    try:
        yield report
    except BaseException as exc:
        emit({"event": "step", "name": name, "status": "failed", "seconds": time.perf_counter() - start,
              "error": str(exc), "error_type": type(exc).__name__, "user_error": _is_user_error(exc)})
        raise
    seconds = time.perf_counter() - start
    emit({"event": "step", "name": name, "status": "ok", "seconds": seconds, "summary": report.summary,
          "data": report.data})
    if not events_path():
        print(f"[{seconds:6.1f} s] {name}: {report.summary}", file=sys.stderr, flush=True)


def reported(name: str, summary: Callable[[Any], str], data: Callable[[Any], dict] | None = None):
    """Decorate a pipeline step function so that each call is a ``step``: ``name`` may name the call's
    keyword arguments (``"synthesize {synthesizer}"``); ``summary`` and ``data`` read the result."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with step(name.format_map(_Blank(kwargs))) as report:
                result = fn(*args, **kwargs)
                report.summary = summary(result)
                report.data = data(result) if data else {}
            return result

        return inner

    return wrap


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _is_user_error(exc: BaseException) -> bool:
    from shopfloor.errors import ShopfloorError

    return isinstance(exc, ShopfloorError)
