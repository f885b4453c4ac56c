"""``shopfloor predictions``, ``feedback`` and ``quality``: what served models answered, what really happened,
and how right they were."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from shopfloor.constants import FAULT_MODEL
from shopfloor.errors import DataError
from shopfloor_cli.common import add_model_name, checked_name, write_table


def since_time(text: str | None) -> datetime | None:
    """``--since``: an ISO date or time (UTC unless it says otherwise), or a span back from now: 30m, 6h, 7d."""
    if not text:
        return None
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(datetime.now(UTC).timestamp() - float(text[:-1]) * units[text[-1]], UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(
            "since", f"expected an ISO time (2026-11-27T08:00) or a span (30m, 6h, 7d), got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_predictions(args: argparse.Namespace) -> int:
    from shopfloor.monitoring.store import read_predictions

    table = read_predictions(checked_name(args), since=since_time(args.since))
    if args.out:
        print(f"{len(table)} rows -> {write_table(table, args.out)}")
    elif table.empty:
        print("no logged predictions")
    else:
        print(table.tail(args.limit).to_string(index=False, max_colwidth=40))
        print(f"({len(table)} rows; --out FILE.csv|.parquet exports them all)")
    return 0


def _champion_details(model: str) -> tuple[dict | None, str | None]:
    """A classifier's registered class names (so outcomes may use them) and the business key the champion was
    trained with; (None, None) without a champion."""
    from shopfloor.errors import RegistryError
    from shopfloor.registry import champion_contract, use_tracking

    use_tracking(None)
    try:
        contract = champion_contract(model)
    except RegistryError:
        return None, None
    # class names where the kind has them (a classifier); other kinds' outcomes are numbers
    return contract.details.get("labels"), contract.details.get("key_column")


def cmd_feedback(args: argparse.Namespace) -> int:
    from shopfloor.monitoring.outcomes import record_file

    model = checked_name(args)
    labels, key = _champion_details(model)
    report = record_file(model, args.file, label=args.label_column, key_column=args.key_column or key, labels=labels)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if report.stored else 2


def cmd_quality(args: argparse.Namespace) -> int:
    from shopfloor.monitoring.live_quality import live_quality, log_evaluation

    model = checked_name(args)
    found = live_quality(model, since=since_time(args.since))
    if not found:
        print(f"no answers of {model} with an outcome yet")
        return 0
    for quality in found:
        figures = ", ".join(f"{k} {v:.3f}" for k, v in sorted(quality.metrics.items()))
        print(f"version {quality.version}: {quality.rows} labelled rows: {figures}")
        if args.log:
            print(f"  logged to MLflow run {log_evaluation(quality)}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    pred = sub.add_parser("predictions", help="what a served model answered (the prediction log)")
    add_model_name(pred, FAULT_MODEL, "served model")
    pred.add_argument("--since", help="ISO time or a span back from now (30m, 6h, 7d)")
    pred.add_argument("--out", help="export every row to FILE.csv or FILE.parquet")
    pred.add_argument("--limit", type=int, default=20, help="rows printed without --out")
    pred.set_defaults(func=cmd_predictions)

    fb = sub.add_parser("feedback", help="store real outcomes for served answers (by request id or key)")
    add_model_name(fb, FAULT_MODEL, "served model")
    fb.add_argument(
        "--file", required=True, help="CSV or Parquet: request_id (and row) or the key column, and the label column"
    )
    fb.add_argument(
        "--label-column",
        default="label",
        help="the label column of the outcomes file: a classifier's class (0/1 or its class names), a detector's "
        "0/1, the life left after the answer, or the measured wear",
    )
    fb.add_argument(
        "--key-column",
        help="match outcomes by this business key instead of request_id (default: the "
        "key the champion was trained with, if any)",
    )
    fb.set_defaults(func=cmd_feedback)

    q = sub.add_parser("quality", help="live quality of each served version on the answers with an outcome")
    add_model_name(q, FAULT_MODEL, "served model")
    q.add_argument("--since", help="only answers since (ISO time, or 30m, 6h, 7d)")
    q.add_argument("--log", action="store_true", help="also log each version's figures to MLflow as an evaluation run")
    q.set_defaults(func=cmd_quality)
