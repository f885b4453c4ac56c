"""Examples shown at the end of every command's ``--help``, written once here; a test parses each of them with the
command's own parser, so an example cannot name an option the command no longer has."""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, list[str]] = {
    "data check": [
        "shopfloor data check plant.csv --pipeline fault-detection --label-column verdict --positive NOK "
        "--time-column made_at",
        "shopfloor data check units.parquet --pipeline health-index --unit-column engine --time-column cycle "
        "--format json",
    ],
    "data simulate gearbox": [
        "shopfloor data simulate gearbox --rows 3000 --drift 2 --ramp --made-from 2026-01-05 --out line.csv",
    ],
    "data simulate cutting-force": ["shopfloor data simulate cutting-force --rows 500 --out force.csv"],
    "data simulate milling": ["shopfloor data simulate milling --cases 8 --out signals.parquet"],
    "data simulate wear": ["shopfloor data simulate wear --cases 16 --out wear.csv"],
    "data simulate surfaces": ["shopfloor data simulate surfaces --out tiles"],
    "run fault-detection": [
        "shopfloor run fault-detection",
        "shopfloor run fault-detection --data parts.csv --model-name line-3 --label-column verdict --positive NOK "
        "--time-column made_at --budget 15m",
    ],
    "run health-index": [
        "shopfloor run health-index",
        "shopfloor run health-index --data engines.csv --model-name fleet --unit-column engine --time-column cycle",
    ],
    "run anomaly-detection": [
        "shopfloor run anomaly-detection",
        "shopfloor run anomaly-detection --data signals.parquet --cut-column cut_no --cut-labels cuts.csv "
        "--model-name mill-2",
    ],
    "run prognosis": [
        "shopfloor run prognosis",
        "shopfloor run prognosis --data wear.csv --case-column tool --wear-column VB --time-column cut "
        "--model-name wear-1",
    ],
    "run surface-inspection": [
        "shopfloor run surface-inspection",
        "shopfloor run surface-inspection --data tiles/ --model-name tiles-1 --mode detect",
    ],
    "run retraining": [
        "shopfloor run retraining --model-name line-3 --data new_parts.csv --time-column made_at",
        "shopfloor run retraining --model-name line-3 --from-log --since 7d",
    ],
    "compile": ["shopfloor compile --all --out build/pipelines"],
    "submit": ["shopfloor submit fault-detection --kfp-url http://localhost:8888 --param budget=900"],
    "schedule retraining": [
        'shopfloor schedule retraining --model-name line-3 --cron "0 3 * * *" --data new_parts.csv',
        "shopfloor schedule retraining --model-name line-3 --watch-server http://127.0.0.1:8080 --when 'live_f2 < 0.6'",
    ],
    "schedule list": ["shopfloor schedule list", "shopfloor schedule list --kfp-url http://localhost:8888"],
    "schedule delete": ["shopfloor schedule delete 3f2a"],
    "schedule resume": ["shopfloor schedule resume 3f2a"],
    "serve": [
        "shopfloor serve --model-name line-3",
        "shopfloor serve --model-name line-3 --host 0.0.0.0 --port 8080 --challenger canary:10",
    ],
    "prediction-sink": ["shopfloor prediction-sink --host 0.0.0.0 --port 8090"],
    "deploy": [
        "shopfloor deploy --model-name line-3 --dry-run",
        "shopfloor deploy --model-name line-3 --canary 10",
        "shopfloor deploy --model-name line-3 --end-canary",
    ],
    "loadtest": [
        "shopfloor loadtest --serve-local --users 200 --rate 10 --duration 30s",
        "shopfloor loadtest --url http://127.0.0.1:8080 --users 20 --rate 10 --duration 60s",
    ],
    "predictions": ["shopfloor predictions --model-name line-3 --since 1d --out answers.parquet"],
    "feedback": ["shopfloor feedback --model-name line-3 --file outcomes.csv --label-column verdict"],
    "quality": ["shopfloor quality --model-name line-3 --since 7d"],
    "demo-loop": ["shopfloor demo-loop --rows 2000"],
    "history": ["shopfloor history --model-name line-3", "shopfloor history --model-name line-3 --format json"],
    "rollback": ['shopfloor rollback --model-name line-3 --reason "misses cracked housings"'],
    "promote": ['shopfloor promote --model-name line-3 --reason "better on a week of shadow answers"'],
    "copy-model": [
        "shopfloor copy-model --model-name line-3 --to-tracking-uri http://127.0.0.1:5000",
        "shopfloor copy-model --model-name line-3 --alias challenger --to-tracking-uri http://127.0.0.1:5000 "
        "--to-model-name line-3-trial",
    ],
    "prognose": ["shopfloor prognose --model-name wear-1 --wear 0,0.05,0.08,0.11,0.13"],
    "predict": [
        "shopfloor predict --model-name line-3 --data parts.csv --out scored.csv",
        "shopfloor predict --model-name line-3 --alias challenger --data parts.parquet --out scored.parquet --explain",
    ],
    "mlflow-server": ["shopfloor mlflow-server --port 5000", "shopfloor mlflow-server --postgres --auth"],
    "mlflow-user": [
        "shopfloor mlflow-user --username trainer --role pipeline --model-name line-3 --pipeline fault-detection",
    ],
    "ui": ["shopfloor ui --port 5000"],
}


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) of every command that takes no further subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from commands(sub, (*path, name))


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Each command's examples after whatever its epilog already says (its exit statuses, say); the examples are
    written only here."""
    for path, command in commands(parser):
        lines = EXAMPLES.get(" ".join(path))
        if not lines:
            continue
        shown = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        command.epilog = f"{command.epilog}\n\n{shown}" if command.epilog else shown
        command.formatter_class = argparse.RawDescriptionHelpFormatter
