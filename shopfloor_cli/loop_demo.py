"""``shopfloor demo-loop``: the whole feedback loop on the simulated gearbox line, in one command.

In a data directory of its own (the user's registry is not touched), the champion trained by ``shopfloor run
fault-detection`` on the simulated steady line is served on a free port,
following ``@champion``; a simulated line is replayed through it, part ids as the business key, and the
outcomes of the parts are fed back by key. Then the line drifts (a supplier change), live F2 falls, the
retraining run takes the logged answers of the drifted line with their outcomes as training rows, and
the server follows the promoted version. Each phase's live figures are printed in one table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from shopfloor import config
from shopfloor.constants import FAULT_MODEL
from shopfloor.data.simulate import simulate_gearbox
from shopfloor_cli.common import write_json
from shopfloor_cli.data import PART_ID

BATCH = 50  # rows per request, as a line's cell controller might send them


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def replay(url: str, model: str, table: pd.DataFrame) -> tuple[int, set[str]]:
    """Send the line's parts (features and part id) in batches, then their outcomes by part id; the rows
    answered and the versions that answered."""
    features = table.drop(columns=["faulty"])
    versions = set()
    for start in range(0, len(features), BATCH):
        records = features.iloc[start : start + BATCH].to_dict("records")
        versions.add(post(f"{url}/v1/models/{model}:predict", {"instances": records})["model_version"])
    outcomes = [{PART_ID: p, "label": int(y)} for p, y in zip(table[PART_ID], table["faulty"], strict=True)]
    for start in range(0, len(outcomes), 500):
        post(f"{url}/v1/models/{model}/feedback", {"outcomes": outcomes[start : start + 500]})
    return len(features), versions


def line(rows: int, seed: int, drift: float, phase: str) -> pd.DataFrame:
    table = simulate_gearbox(rows=rows, seed=seed, drift=drift)
    table.insert(0, PART_ID, [f"{phase}-{i:06d}" for i in range(len(table))])
    return table


def shopfloor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shopfloor_cli.main", *args], text=True)


def cmd_demo_loop(args: argparse.Namespace) -> int:
    from loadtest.run import local_server
    from shopfloor.errors import RegistryError
    from shopfloor.monitoring.live_quality import live_quality
    from shopfloor.platform.deploy import served_version
    from shopfloor.registry import champion_version, use_tracking

    home = Path(args.home or Path(".shopfloor") / "demo-loop" / datetime.now().strftime("%Y%m%d-%H%M%S")).resolve()
    os.environ[config.HOME_ENV] = str(home)  # its own registry and log: the user's champion is not touched
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop(config.MONITORING_ENV, None)
    model = FAULT_MODEL
    print(f"demo loop in {home}", flush=True)
    use_tracking(None)
    try:
        champion_version(model)
    except RegistryError:
        print("training the champion on the steady line (shopfloor run fault-detection)", flush=True)
        if shopfloor("run", "fault-detection").returncode not in (0, 3):
            return 1
    started = time.perf_counter()
    table = []
    with local_server(
        model, extra=["--key-column", PART_ID, "--poll-seconds", "1", "--quality-seconds", "2"], log=home / "server.log"
    ) as url:

        def phase(name: str, drift: float, seed: int) -> datetime:
            since = datetime.now(UTC)
            rows, versions = replay(url, model, line(args.rows, seed, drift, name))
            deadline = time.monotonic() + 30  # the server writes its log within about a second
            found = live_quality(model, since=since)
            while sum(q.rows for q in found) < rows and time.monotonic() < deadline:
                time.sleep(0.2)
                found = live_quality(model, since=since)
            for quality in found:
                table.append(
                    {
                        "phase": name,
                        "drift": drift,
                        "version": quality.version,
                        "labelled": quality.rows,
                        **{k: round(v, 3) for k, v in quality.metrics.items()},
                    }
                )
            print(
                f"{name}: {rows} parts answered by v{', v'.join(sorted(versions))}, outcomes fed back: "
                + "; ".join(f"v{q.version} live F2 {q.metrics['f2']:.3f}" for q in found),
                flush=True,
            )
            return since

        phase("steady line", 0.0, args.seed + 1)
        drifted = phase("after a supplier change", args.drift, args.seed + 2)
        print("retraining on the drifted line's logged answers and their outcomes", flush=True)
        outcome = home / "retraining.json"
        done = shopfloor(
            "run",
            "retraining",
            "--model-name",
            model,
            "--from-log",
            "--since",
            drifted.isoformat(),
            "--label-column",
            "faulty",
            "--json",
            str(outcome),
        )
        if done.returncode != 0:
            return done.returncode
        result = json.loads(outcome.read_text())
        if result["promoted"]:  # the server follows the alias at its next check (every second here)
            deadline = time.monotonic() + 30
            while served_version(url, model) != str(result["version"]) and time.monotonic() < deadline:
                time.sleep(0.5)
        phase("after retraining", args.drift, args.seed + 3)
    frame = pd.DataFrame(table)
    print("\nlive quality by phase (answers of that phase with their outcomes):")
    print(frame.to_string(index=False))
    print(f"\nretraining: {result['reason']}")
    print(f"demo loop in {time.perf_counter() - started:.0f} s")
    write_json(args.json, {"phases": table, "retraining": result, "seconds": time.perf_counter() - started})
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo-loop",
        help="serve, replay a drifting simulated line, feed outcomes back, watch "
        "live F2 fall, retrain from the logged rows, promote",
    )
    demo.add_argument("--rows", type=int, default=1500, help="parts per phase")
    demo.add_argument("--drift", type=float, default=2.0, help="the supplier change (1: seats 7 %%, screws 8 %%)")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.add_argument(
        "--home",
        help="the demo's own data directory (default: .shopfloor/demo-loop/TIME; given again, its champion is reused)",
    )
    demo.add_argument("--json", help="also write the table as JSON to this file")
    demo.set_defaults(func=cmd_demo_loop)
