"""Quiet pipeline runs through the real kfp.local: step lines and bars on the terminal, executor logs in a
file, and a failed step's own error instead of kfp's."""

import builtins
import io

import pytest
from kfp import dsl

from shopfloor.config import EVENTS_ENV
from shopfloor.progress import bar, emit, step
from shopfloor_cli.runner import Console, StepFailed, run_local


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def count(n: int) -> int:
    from shopfloor.progress import bar, step

    with step("count") as report:
        total = sum(i for i in bar(range(n), desc="counting"))
        report.summary = f"summed {n} numbers: {total}"
    print("an executor line that belongs in the log")
    return total


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def check(value: int, limit: int) -> int:
    from shopfloor.errors import DataError
    from shopfloor.progress import step

    with step("check"):
        if value > limit:
            raise DataError("limit", f"{value} is over the limit of {limit}")
    return value


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def crash() -> int:
    from shopfloor.progress import step

    with step("crash"):
        raise ZeroDivisionError("division by zero in the step")


@dsl.pipeline
def counting(n: int, limit: int) -> int:
    return check(value=count(n=n).output, limit=limit).output


@dsl.pipeline
def crashing() -> int:
    return crash().output


def test_a_run_prints_one_line_per_step_and_files_the_logs(home):
    out = io.StringIO()
    run = run_local(counting, stream=out, n=10, limit=100)
    assert run.output == 45
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("  executor logs: ") and len(lines) == 3, text
    assert "count" in lines[1] and "summed 10 numbers: 45" in lines[1] and "check" in lines[2]
    log = run.log.read_text()
    assert "an executor line that belongs in the log" in log and "KFP Executor" in log
    assert [s["name"] for s in run.steps] == ["count", "check"] and run.step("count")["status"] == "ok"
    assert builtins.print is print


def test_a_failed_step_raises_its_own_error(home):
    out = io.StringIO()
    with pytest.raises(StepFailed, match="limit: 45 is over the limit of 10"):
        run_local(counting, stream=out, n=10, limit=10)
    assert "FAILED: limit: 45 is over the limit of 10" in out.getvalue()
    assert "Traceback" not in out.getvalue()


def test_an_unexpected_failure_names_the_step_and_the_log(home):
    with pytest.raises(RuntimeError, match=r"at step crash: division by zero in the step \(executor logs: .*kfp.log"):
        run_local(crashing, stream=io.StringIO())


def test_outside_a_run_bars_are_tqdm_and_steps_print_a_line(capsys, monkeypatch):
    monkeypatch.delenv(EVENTS_ENV, raising=False)
    with step("alone") as report:
        assert sum(bar(range(3), desc="x")) == 3
        report.summary = "done"
    assert "alone: done" in capsys.readouterr().err


def test_the_console_draws_bars_only_on_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv(EVENTS_ENV, str(tmp_path / "events.jsonl"))
    with bar(total=4, desc="training", unit="epoch") as progress:
        progress.update(4)
    emit({"event": "step", "name": "train", "status": "ok", "seconds": 1.5, "summary": "4 epochs"})
    import json

    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["progress", "close", "step"]
    out = io.StringIO()
    console = Console(out, bars=False)
    for event in events:
        console.handle(event)
    assert out.getvalue() == "  train                      1.5 s  4 epochs\n"
