"""The local scheduler: recurring retraining on one machine, on a cron line or an interval, and at once
when drift appears in a watched data file.

``start`` writes a schedule record under ``$SHOPFLOOR_HOME/schedules/`` and launches
``python -m pipelines.scheduler ID`` as a detached process. That process fires ``shopfloor run
retraining`` (one run at a time, like the cluster's ``max_concurrency=1``; missed times are not
caught up), appends each firing to ``ID.events.jsonl`` and exits when its record is deleted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shopfloor import config
from shopfloor.constants import FAULT_MODEL


def folder() -> Path:
    path = config.home() / "schedules"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Schedule:
    data: str  # the table each run retrains on
    cron: str | None = None  # five-field cron line, local time
    interval: float | None = None  # seconds between runs (instead of cron)
    watch: str | None = None  # a file whose changes are checked for drift (default: none)
    label: str = "faulty"
    model_name: str = FAULT_MODEL
    poll: float = 1.0  # seconds between looks at the clock and the watched file
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    pid: int | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron and interval")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"cron: not a valid cron line: {self.cron!r}")
        if self.interval is not None and self.interval <= 0:
            raise ValueError("interval must be positive")

    @property
    def record(self) -> Path:
        return folder() / f"{self.id}.json"

    @property
    def events(self) -> Path:
        return folder() / f"{self.id}.events.jsonl"

    def save(self) -> None:
        self.record.write_text(json.dumps(asdict(self), indent=2))

    def next_time(self, after: float) -> float:
        """The first firing time (epoch seconds) after ``after``."""
        if self.interval is not None:
            return after + self.interval
        from croniter import croniter

        return croniter(self.cron, datetime.fromtimestamp(after).astimezone()).get_next(float)


def load(schedule_id: str) -> Schedule:
    path = folder() / f"{schedule_id}.json"
    if not path.exists():
        raise KeyError(f"no local schedule {schedule_id!r}")
    return Schedule(**json.loads(path.read_text()))


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a finished child that nobody waited for is a zombie: not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def start(schedule: Schedule) -> Schedule:
    """Save ``schedule`` and launch its scheduler process (detached; its output goes to ID.log)."""
    schedule.save()
    log = open(folder() / f"{schedule.id}.log", "ab")  # noqa: SIM115 (the child keeps it open)
    process = subprocess.Popen([sys.executable, "-m", "pipelines.scheduler", schedule.id], stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True, env=os.environ.copy())
    schedule.pid = process.pid
    schedule.save()
    return schedule


def list_all() -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder().glob("*.json")):
        if "." in path.stem:  # ID.last.json: a run's result, not a record
            continue
        record = json.loads(path.read_text())
        events = folder() / f"{record['id']}.events.jsonl"
        fired = events.read_text().splitlines() if events.exists() else []
        out.append({**record, "running": alive(record.get("pid")), "runs": len(fired),
                    "last": json.loads(fired[-1]) if fired else None})
    return out


def delete(schedule_id: str) -> None:
    """Stop the scheduler process (and a run it started) and remove the schedule's record."""
    schedule = load(schedule_id)
    schedule.record.unlink()
    if alive(schedule.pid):
        try:
            os.killpg(schedule.pid, signal.SIGTERM)
        except OSError:
            pass


def events(schedule_id: str) -> list[dict[str, Any]]:
    path = folder() / f"{schedule_id}.events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def drift_in(schedule: Schedule) -> list[str]:
    """Features of the watched file that drifted from the champion's training rows ([] if none or no champion)."""
    from shopfloor.data.ingest import read_table
    from shopfloor.errors import ShopfloorError
    from shopfloor.retrain.drift import drift_report
    from shopfloor.retraining import champion_inputs, reference_rows

    try:
        contract = champion_inputs(schedule.model_name)
        features = contract.inputs.names
        reference = reference_rows(contract.version.run_id)
        if reference is None:
            return []
        return drift_report(reference[features], read_table(schedule.watch)[features]).drifted
    except (ShopfloorError, KeyError) as exc:
        print(f"drift check skipped: {exc}", flush=True)
        return []


def fire(schedule: Schedule, reason: str) -> dict[str, Any]:
    """Run the retraining pipeline once (as a ``shopfloor`` subprocess) and record the outcome."""
    started = time.time()
    result_file = folder() / f"{schedule.id}.last.json"
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "shopfloor_cli.main", "run", "retraining", "--data", schedule.data,
           "--label", schedule.label, "--model-name", schedule.model_name, "--json", str(result_file)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    event = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "trigger": reason,
             "exit_code": done.returncode, "seconds": round(time.time() - started, 1)}
    if result_file.exists():
        result = json.loads(result_file.read_text())
        event |= {"version": result.get("version"), "alias": result.get("alias"),
                  "promoted": result.get("promoted"), "decision": result.get("reason")}
    else:
        event["error"] = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    with schedule.events.open("a") as out:
        out.write(json.dumps(event) + "\n")
    print(json.dumps(event), flush=True)
    return event


def run_forever(schedule_id: str) -> None:
    """The scheduler loop: fire on time and on drift in the watched file; stop when the record goes."""
    schedule = load(schedule_id)
    due = schedule.next_time(time.time())
    seen = None
    print(f"schedule {schedule.id}: next run at {datetime.fromtimestamp(due).isoformat()}", flush=True)
    while schedule.record.exists():
        now = time.time()
        if now >= due:
            fire(schedule, "schedule")
            due = schedule.next_time(time.time())  # no catch-up of times missed while running
            continue
        if schedule.watch and Path(schedule.watch).exists():
            stamp = Path(schedule.watch).stat().st_mtime_ns
            if seen is not None and stamp != seen:
                drifted = drift_in(schedule)
                if drifted:
                    fire(schedule, f"drift in {len(drifted)} features: {', '.join(drifted[:5])}")
            seen = stamp
        time.sleep(schedule.poll)


if __name__ == "__main__":
    run_forever(sys.argv[1])
