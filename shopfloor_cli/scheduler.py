"""The local scheduler: recurring retraining on one machine, on a cron line or an interval, and at once
when drift appears in a watched data file or in a model server's online drift gauge.

``start`` writes a schedule record under ``$SHOPFLOOR_HOME/schedules/`` and launches
``python -m shopfloor_cli.scheduler ID`` as a detached process. That process fires ``shopfloor run
retraining`` (one run at a time, like the cluster's ``max_concurrency=1``; a manual run of the same model
meanwhile is refused by the model's run lock, and so is a firing while one runs), appends each firing to
``ID.events.jsonl`` and exits when its record is deleted.

Slots are times fixed by the schedule (the cron line, or ``anchor + k * interval``). The slot a firing
serves is written to the record *before* the run starts, so a scheduler that is killed and started again
(``resume``) never runs that slot a second time; slots missed while no scheduler ran are made up by one
run (the latest of them), not one per slot. A failed run is recorded with its error and the next slot runs.

With ``watch_server`` it also reads the server's ``/metrics`` every ``server_poll`` seconds and fires once
per drift episode: when some ``shopfloor_feature_psi`` of the model rises above ``psi``, and not again
until every feature has fallen back below it (the retrained version starts a fresh window).
"""

from __future__ import annotations

import json
import math
import os
import re
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
from shopfloor.constants import FAULT_MODEL, MIN_LABELLED_ROWS
from shopfloor.platform.processes import alive


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
    watch_server: str | None = None  # a model server whose shopfloor_feature_psi gauges are watched
    when: str | None = None  # a condition on the watched server's live quality, e.g. "live_f2 < 0.6"
    min_labelled: int = MIN_LABELLED_ROWS  # answers with an outcome needed before ``when`` is believed
    psi: float = 0.25  # the PSI above which a served feature counts as drifted
    server_poll: float = 15.0  # seconds between reads of the server's /metrics
    label: str = "faulty"
    model_name: str = FAULT_MODEL
    poll: float = 1.0  # seconds between looks at the clock and the watched file
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    pid: int | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    anchor: float = field(default_factory=time.time)  # interval slots are anchor + k * interval
    last_slot: float | None = None  # the latest slot a run was started for

    def __post_init__(self) -> None:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give one of cron and interval, not both")
        if self.cron is None and self.interval is None and self.watch_server is None:
            raise ValueError("give cron, interval, or a server to watch (watch_server, with when or psi)")
        if self.when is not None:
            parse_condition(self.when)
            if self.watch_server is None:
                raise ValueError("when: needs a model server to watch (watch_server)")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"cron: not a valid cron line: {self.cron!r}")
        if self.interval is not None and self.interval <= 0:
            raise ValueError("interval must be positive")
        if self.watch_server is not None and not self.watch_server.startswith(("http://", "https://")):
            raise ValueError(f"watch_server: not an http(s) URL: {self.watch_server!r}")
        if self.psi <= 0:
            raise ValueError(f"psi must be positive, got {self.psi}")

    @property
    def record(self) -> Path:
        return folder() / f"{self.id}.json"

    @property
    def events(self) -> Path:
        return folder() / f"{self.id}.events.jsonl"

    def save(self) -> None:
        self.record.write_text(json.dumps(asdict(self), indent=2))

    def next_time(self, after: float) -> float:
        """The first slot (epoch seconds) strictly after ``after`` (never, for a schedule of triggers only)."""
        if self.interval is None and self.cron is None:
            return math.inf
        if self.interval is not None:
            return self.anchor + (math.floor((after - self.anchor) / self.interval) + 1) * self.interval
        from croniter import croniter

        return croniter(self.cron, datetime.fromtimestamp(after).astimezone()).get_next(float)

    def latest_slot(self, until: float) -> float | None:
        """The latest slot at or before ``until`` that no run was started for (None if there is none)."""
        if self.interval is None and self.cron is None:
            return None
        if self.interval is not None:
            k = math.floor((until - self.anchor) / self.interval)
            slot = self.anchor + k * self.interval if k >= 1 else None
        else:
            from croniter import croniter

            slot = croniter(self.cron, datetime.fromtimestamp(until).astimezone()).get_prev(float)
            slot = slot if slot >= self.anchor else None
        return slot if slot is not None and (self.last_slot is None or slot > self.last_slot + 1e-6) else None


def load(schedule_id: str) -> Schedule:
    path = folder() / f"{schedule_id}.json"
    if not path.exists():
        raise KeyError(f"no local schedule {schedule_id!r}")
    return Schedule(**json.loads(path.read_text()))


def start(schedule: Schedule) -> Schedule:
    """Save ``schedule`` and launch its scheduler process (detached; its output goes to ID.log)."""
    schedule.save()
    log = open(folder() / f"{schedule.id}.log", "ab")  # noqa: SIM115 (the child keeps it open)
    process = subprocess.Popen(
        [sys.executable, "-m", "shopfloor_cli.scheduler", schedule.id],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=os.environ.copy(),
    )
    schedule.pid = process.pid
    schedule.save()
    return schedule


def resume(schedule_id: str) -> Schedule:
    """Start the scheduler process of a saved schedule again (after a crash or a reboot); refused while its
    process still runs, so that no two processes serve one schedule."""
    schedule = load(schedule_id)
    if alive(schedule.pid):
        raise ValueError(f"schedule {schedule_id}: its scheduler (pid {schedule.pid}) is still running")
    return start(schedule)


def list_all() -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder().glob("*.json")):
        if "." in path.stem:  # ID.last.json: a run's result, not a record
            continue
        record = json.loads(path.read_text())
        events = folder() / f"{record['id']}.events.jsonl"
        fired = events.read_text().splitlines() if events.exists() else []
        out.append(
            {
                **record,
                "running": alive(record.get("pid")),
                "runs": len(fired),
                "last": json.loads(fired[-1]) if fired else None,
            }
        )
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
    from shopfloor.registry import reference_rows
    from shopfloor.retraining.drift import drift_report
    from shopfloor.retraining.workflow import champion_inputs

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


def scraped(url: str, what: str, timeout: float = 5.0) -> list | None:
    """The samples of a model server's ``/metrics`` (None, said, when it cannot be read: an unreachable server
    is evidence of nothing)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=timeout) as answer:
            text = answer.read().decode()
    except OSError as exc:
        print(f"{what} check of {url} skipped: {exc}", flush=True)
        return None
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def served_drift(url: str, model: str, threshold: float, timeout: float = 5.0) -> dict[str, float] | None:
    """Features whose online PSI on the model server at ``url`` is above ``threshold`` (None when the server
    cannot be read)."""
    samples = scraped(url, "drift", timeout)
    if samples is None:
        return None
    return {
        s.labels["feature"]: round(float(s.value), 3)
        for s in samples
        if s.name == "shopfloor_feature_psi" and s.labels.get("model") == model and s.value > threshold
    }


CONDITION = re.compile(r"^\s*live_([a-z0-9_]+)\s*(<=|>=|<|>)\s*(-?[0-9]*\.?[0-9]+)\s*$")
COMPARE = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}


def parse_condition(text: str) -> tuple[str, str, float]:
    """``"live_f2 < 0.6"`` -> ("f2", "<", 0.6); ``ValueError`` naming the expected form otherwise."""
    match = CONDITION.match(text or "")
    if match is None:
        raise ValueError(f"when: expected 'live_METRIC < VALUE' (or <=, >, >=), e.g. 'live_f2 < 0.6'; got {text!r}")
    return match.group(1), match.group(2), float(match.group(3))


def served_quality(
    url: str, model: str, metric: str, min_labelled: int, timeout: float = 5.0
) -> tuple[float, int] | None:
    """(live ``metric``, labelled answers) of the version the server at ``url`` answers with now, or None when
    the server cannot be read, has no such figure, or too few answers have an outcome to believe it."""
    scrape = scraped(url, "live quality", timeout)
    if scrape is None:
        return None
    samples = [s for s in scrape if s.labels.get("model") == model]
    served = next((str(int(s.value)) for s in samples if s.name == "shopfloor_served_version"), None)
    value = next(
        (
            s.value
            for s in samples
            if s.name == "shopfloor_live_quality"
            and s.labels.get("version") == served
            and s.labels.get("metric") == metric
        ),
        None,
    )
    rows = next(
        (
            int(s.value)
            for s in samples
            if s.name == "shopfloor_live_labelled_rows" and s.labels.get("version") == served
        ),
        0,
    )
    if value is None or rows < min_labelled:
        return None
    return float(value), rows


def new_episode(drifted: dict[str, float] | None, episode: bool) -> tuple[bool, bool]:
    """(fire now, in an episode after this read): fire when drift appears outside an episode; the episode
    ends only on a read with no drifted feature (an unreadable server changes nothing)."""
    if drifted is None:
        return False, episode
    return bool(drifted) and not episode, bool(drifted)


def fire(schedule: Schedule, reason: str, slot: float | None = None) -> dict[str, Any]:
    """Run the retraining pipeline once (as a ``shopfloor`` subprocess) and record the outcome."""
    started = time.time()
    result_file = folder() / f"{schedule.id}.last.json"
    result_file.unlink(missing_ok=True)
    rows = ["--data", schedule.data] if schedule.data else ["--from-log"]  # no table: the served answers
    cmd = [
        sys.executable,
        "-m",
        "shopfloor_cli.main",
        "run",
        "retraining",
        *rows,
        "--label-column",
        schedule.label,
        "--model-name",
        schedule.model_name,
        "--json",
        str(result_file),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    event = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "trigger": reason,
        "exit_code": done.returncode,
        "seconds": round(time.time() - started, 1),
    }
    if slot is not None:
        event["slot"] = round(slot, 3)
    if result_file.exists():
        result = json.loads(result_file.read_text())
        event |= {
            "version": result.get("version"),
            "alias": result.get("alias"),
            "promoted": result.get("promoted"),
            "decision": result.get("reason"),
        }
    else:
        event["error"] = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    with schedule.events.open("a") as out:
        out.write(json.dumps(event) + "\n")
    print(json.dumps(event), flush=True)
    return event


def claim(schedule: Schedule, slot: float) -> None:
    """Write ``slot`` as started, before its run starts: a restart never runs it again."""
    record = json.loads(schedule.record.read_text())
    record["last_slot"] = schedule.last_slot = slot
    tmp = schedule.record.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(schedule.record)  # atomic: a kill leaves the old record or the new one, never half of one


def run_forever(schedule_id: str) -> None:
    """The scheduler loop: fire on time and on drift in the watched file; stop when the record goes."""
    schedule = load(schedule_id)
    missed = schedule.latest_slot(time.time())
    if missed is not None:  # slots that passed while no scheduler ran: one run for all of them
        claim(schedule, missed)
        fire(schedule, "missed slot", missed)
    due = schedule.next_time(time.time())
    seen = None
    next_scrape, episode, low = time.time(), False, False
    condition = parse_condition(schedule.when) if schedule.when else None
    print(
        f"schedule {schedule.id}: next run at "
        f"{datetime.fromtimestamp(due).isoformat() if math.isfinite(due) else 'a trigger'}",
        flush=True,
    )
    while schedule.record.exists():
        now = time.time()
        if now >= due:
            claim(schedule, due)
            fire(schedule, "schedule", due)
            due = schedule.next_time(time.time())  # slots that passed during the run are not caught up
            continue
        if schedule.watch_server and now >= next_scrape:
            next_scrape = now + schedule.server_poll
            if condition is not None:  # live quality: once per episode of the condition holding
                metric, op, bound = condition
                found = served_quality(schedule.watch_server, schedule.model_name, metric, schedule.min_labelled)
                holds = None if found is None else ({metric: found[0]} if COMPARE[op](found[0], bound) else {})
                start, low = new_episode(holds, low)
                if start:
                    fire(
                        schedule, f"live {metric} {found[0]:.3f} {op} {bound:g} over {found[1]} answers with an outcome"
                    )
            else:
                drifted = served_drift(schedule.watch_server, schedule.model_name, schedule.psi)
                start, episode = new_episode(drifted, episode)
                if start:
                    top = sorted(drifted, key=drifted.get, reverse=True)[:5]
                    fire(
                        schedule,
                        f"served drift (PSI > {schedule.psi:g}) in {len(drifted)} features: "
                        + ", ".join(f"{f} {drifted[f]}" for f in top),
                    )
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
