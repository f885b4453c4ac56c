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
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shopfloor.config import environment

#: Seconds between two progress events of one bar (the terminal redraws no faster anyway).
EVENT_INTERVAL = 0.5


def events_path() -> str | None:
    return environment().events


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
        self.iterable: Iterable = iterable if iterable is not None else ()
        self.total = total if total is not None else (len(iterable) if isinstance(iterable, Sized) else None)
        self.desc, self.unit, self.n, self.postfix = desc, unit, 0, ""
        self._key = f"{os.getpid()}:{id(self)}"
        self._last = 0.0

    def _send(self, kind: str = "progress") -> None:
        emit(
            {
                "event": kind,
                "bar": self._key,
                "desc": self.desc,
                "n": self.n,
                "total": self.total,
                "unit": self.unit,
                "postfix": self.postfix,
            }
        )
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
        self.iterable: Iterable = iterable if iterable is not None else ()

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


def bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    leave: bool = False,
):
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
        emit(
            {
                "event": "step",
                "name": name,
                "status": "failed",
                "seconds": time.perf_counter() - start,
                "error": str(exc),
                "error_type": type(exc).__name__,
                "user_error": _is_user_error(exc),
            }
        )
        raise
    _ended(report, time.perf_counter() - start)


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB: a pipeline step's own, as each step is a process of its own."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _ended(report: StepReport, seconds: float) -> None:
    emit(
        {
            "event": "step",
            "name": report.name,
            "status": "ok",
            "seconds": seconds,
            "summary": report.summary,
            "data": report.data,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )
    if not events_path():
        print(f"[{seconds:6.1f} s] {report.name}: {report.summary}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class PerMethod:
    """A step that works for one method of several (one synthesizer's branch): a failure of its own is written
    as a record to ``outputs`` and the step returns it (``shopfloor.platform.failures``); a record among ``inputs`` is
    passed on without working. Keyword arguments name the method and the input and output paths."""

    method: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


def reported(
    name: str,
    summary: Callable[[Any], str],
    data: Callable[[Any], dict] | None = None,
    per_method: PerMethod | None = None,
):
    """Decorate a pipeline step function so that each call is a ``step``: ``name`` may name the call's
    keyword arguments (``"synthesize {synthesizer}"``); ``summary`` and ``data`` read the result."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            from shopfloor.platform.cpus import TRAINING_SHARE, use_cpus

            use_cpus(share=TRAINING_SHARE)  # threads from the CPUs this step is given, before its work starts
            title = name.format_map(_Blank(kwargs))
            if per_method is not None:
                return _contained(fn, title, per_method, summary, data, args, kwargs)
            with step(title) as report:
                result = fn(*args, **kwargs)
                report.summary = summary(result)
                report.data = data(result) if data else {}
            return result

        return inner

    return wrap


def _contained(
    fn: Callable, title: str, spec: PerMethod, summary: Callable, data: Callable | None, args: tuple, kwargs: dict
) -> Any:
    from shopfloor.errors import DataError
    from shopfloor.platform import failures

    named = inspect.signature(fn).bind_partial(*args, **kwargs).arguments  # inputs may come positionally
    method = str(named.get(spec.method, ""))
    start = time.perf_counter()
    failure = next((f for f in (failures.read(named[k]) for k in spec.inputs if named.get(k)) if f), None)
    if failure is None:
        try:
            result = fn(*args, **kwargs)
        except DataError as exc:  # a bad option or column concerns every method: the run stops, naming it
            emit(
                {
                    "event": "step",
                    "name": title,
                    "status": "failed",
                    "seconds": time.perf_counter() - start,
                    "error": str(exc),
                    "error_type": type(exc).__name__,
                    "user_error": True,
                }
            )
            raise
        except Exception as exc:  # noqa: BLE001  (the method's own failure: reported, the others go on)
            failure = failures.Failure.of(method, title, exc)
        else:
            _ended(StepReport(title, summary(result), data(result) if data else {}), time.perf_counter() - start)
            return result
        status = "contained"
    else:
        status = "skipped"
    for key in spec.outputs:
        if named.get(key):
            failures.write(named[key], failure)
    emit(
        {
            "event": "step",
            "name": title,
            "status": status,
            "seconds": time.perf_counter() - start,
            "summary": f"{failure}; the other methods go on",
            "error": failure.error,
        }
    )
    if not events_path():
        print(f"{title}: {failure}; the other methods go on", file=sys.stderr, flush=True)
    return {"failed": True, **failure.to_dict()}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _is_user_error(exc: BaseException) -> bool:
    from shopfloor.errors import ShopfloorError

    return isinstance(exc, ShopfloorError)
