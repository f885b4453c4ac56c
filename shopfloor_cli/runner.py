"""Run pipelines on this machine with ``kfp.local`` (SubprocessRunner, the current environment), quietly.

kfp.local prints every executor's input, output and log lines: over a thousand lines for one
fault-detection run. Here those go to a log file under ``$SHOPFLOOR_HOME/runs/`` (``verbose`` shows them
live instead), and the terminal gets what the steps report through ``shopfloor.progress``: a bar while
a step trains and one line when a step ends. A failed step raises its own error (a ``DataError`` names
its field), not kfp's stack trace.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kfp import local

from shopfloor import config
from shopfloor.config import EVENTS_ENV
from shopfloor.errors import ShopfloorError


class StepFailed(ShopfloorError):
    """A pipeline step stopped on bad input or registry state; the message is the step's own."""


@dataclass
class LocalRun:
    output: Any  # the pipeline's output (a JSON string output parsed)
    steps: list[dict[str, Any]] = field(default_factory=list)  # the "step" events, in the order they ended
    log: Path | None = None

    def step(self, prefix: str) -> dict[str, Any] | None:
        """The last reported step whose name starts with ``prefix``."""
        return next((s for s in reversed(self.steps) if s["name"].startswith(prefix)), None)


class Console:
    """Draws step events on the terminal: one line per finished step, a bar per running one."""

    def __init__(self, stream: TextIO, bars: bool, budget: float = 0.0) -> None:
        self.stream, self.bars = stream, bars
        self.started, self.budget = time.time(), budget  # a run's time budget, seconds (0: none)
        self.steps: list[dict[str, Any]] = []
        self._open: dict[str, Any] = {}

    def line(self, text: str) -> None:
        # Written, not printed: kfp.local swaps ``builtins.print`` for an indenting one while tasks run.
        if self._open:
            from tqdm.auto import tqdm

            tqdm.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "step":
            self.steps.append(event)
            seconds = f"{event['seconds']:6.1f} s"
            if event["status"] == "ok":
                time_left = f" [{self._estimate()}]" if self.budget else ""
                self.line(f"  {event['name']:<24}{seconds}  {event.get('summary', '')}{time_left}")
            elif event["status"] in ("contained", "skipped"):  # one method failed; the run goes on
                self.line(f"  {event['name']:<24}{seconds}  LEFT OUT: {event.get('summary', '')}")
            else:
                self.line(f"  {event['name']:<24}{seconds}  FAILED: {event.get('error', '')}")
        elif kind in ("progress", "close") and self.bars:
            self._bar(event)

    def _estimate(self) -> str:
        from shopfloor.platform.budget import Budget

        return Budget("run", self.budget, self.started).estimate()

    def _bar(self, event: dict[str, Any]) -> None:
        from tqdm.auto import tqdm

        key = event["bar"]
        if event["event"] == "close":
            bar = self._open.pop(key, None)
            if bar is not None:
                bar.close()
            return
        bar = self._open.get(key)
        if bar is None:
            bar = self._open[key] = tqdm(
                total=event.get("total"),
                desc=f"  {event['desc']}",
                unit=event["unit"],
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
            )
        bar.n = event["n"]
        bar.set_postfix_str(event.get("postfix", ""), refresh=False)
        bar.refresh()

    def close(self) -> None:
        for bar in self._open.values():
            bar.close()
        self._open.clear()


class _Follower(threading.Thread):
    """Reads new events from the event file and hands them to the console until stopped."""

    def __init__(self, path: Path, console: Console) -> None:
        super().__init__(name="step-events", daemon=True)
        self.path, self.console = path, console
        self._stop_event = threading.Event()
        self._offset = 0

    def poll(self) -> None:
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
        self._offset += len(complete)
        for line in complete.decode("utf-8").splitlines():
            with contextlib.suppress(ValueError):
                self.console.handle(json.loads(line))

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self.poll()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.poll()  # whatever came after the last look


@contextlib.contextmanager
def _output_to(log: Path, quiet: bool) -> Iterator[TextIO]:
    """While quiet, this process's output goes to ``log``: the file descriptors 1 and 2 (what child
    processes and C code write) and Python's ``sys.stdout``/``sys.stderr`` (what kfp.local prints, its
    executors' lines included). Yields a stream to the real terminal."""
    if not quiet:
        yield sys.stdout
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    with open(log, "a", buffering=1, encoding="utf-8") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield terminal
        finally:
            sink.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


def run_local(
    pipeline_func,
    *,
    verbose: bool = False,
    stream: TextIO | None = None,
    container: dict[str, Any] | None = None,
    **arguments: Any,
) -> LocalRun:
    """Run ``pipeline_func`` through ``kfp.local`` and return its JSON string output, parsed.

    Each component runs as a subprocess of this Python (``use_venv=False``): the installed
    ``shopfloor`` is the one the components use. With ``container`` (arguments of docker's
    ``containers.run``: user, read_only, cap_drop, network_mode...), each runs instead in its image with
    ``kfp.local.DockerRunner``, as on the cluster (steps report no live progress then). A step that failed on
    a Shopfloor error raises ``StepFailed`` with the step's message; any other failure raises
    ``RuntimeError`` naming the log.
    """
    name = getattr(pipeline_func, "name", "pipeline")
    run_dir = config.home() / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    events, log = run_dir / "events.jsonl", run_dir / "kfp.log"
    events.touch()
    out = stream or sys.stdout
    print(f"  executor logs: {log}" + (" (shown below)" if verbose else ""), file=out, flush=True)
    previous = os.environ.get(EVENTS_ENV)
    os.environ[EVENTS_ENV] = str(events)
    error: Exception | None = None
    original_print = builtins.print  # parallel kfp.local tasks can leave their indenting print behind
    with _output_to(log, quiet=not verbose) as terminal:
        console = Console(
            terminal if stream is None else stream,
            bars=not verbose and terminal.isatty(),
            budget=float(arguments.get("budget") or 0.0),
        )
        follower = _Follower(events, console)
        follower.start()
        try:
            runner = (
                local.DockerRunner(**container) if container is not None else local.SubprocessRunner(use_venv=False)
            )
            local.init(runner=runner, pipeline_root=str(config.kfp_local_root()), raise_on_error=True)
            task = pipeline_func(**arguments)
        except Exception as exc:  # kfp raises RuntimeError for a failed task, others for bad wiring
            error = exc
        finally:
            follower.stop()
            console.close()
            builtins.print = original_print
            if previous is None:
                os.environ.pop(EVENTS_ENV, None)
            else:
                os.environ[EVENTS_ENV] = previous
    from shopfloor.platform.run_outcomes import record_outcome

    failed = next((s for s in console.steps if s["status"] == "failed"), None)
    record_outcome(
        name,
        "FAILED" if error is not None else "SUCCEEDED",  # as the compiled exit step would
        error="" if error is None else str((failed or {}).get("error") or error),
        task=(failed or {}).get("name", ""),
    )
    if error is not None:
        if failed is not None and failed.get("user_error"):
            raise StepFailed(failed["error"]) from None
        where = f"step {failed['name']}: {failed['error']}" if failed else f"{type(error).__name__}: {error}"
        raise RuntimeError(f"{name} failed at {where} (executor logs: {log})") from None
    output = json.loads(task.output) if isinstance(task.output, str) else task.output
    return LocalRun(output, console.steps, log)
