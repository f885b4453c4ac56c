"""``shopfloor history``, ``rollback``, ``promote`` and ``copy-model``: who moved ``@champion`` when and why, moving
it back, and moving a version to another registry (a local champion to the cluster's MLflow)."""

from __future__ import annotations

import argparse
import json

from shopfloor.constants import FAULT_MODEL
from shopfloor_cli.common import add_model_name, checked_name


def _tracking() -> None:
    from shopfloor.registry import use_tracking

    use_tracking(None)


def cmd_history(args: argparse.Namespace) -> int:
    from shopfloor.registry.history import history

    _tracking()
    moves = history(checked_name(args))
    if args.format == "json":
        print(json.dumps(moves, indent=2))
        return 0
    if not moves:
        print("no alias moves on record")
    for m in moves:
        who = f"run {m['run_id']}" if m["run_id"] else m["command"]
        print(
            f"{m['time']}  @{m['alias']:<10} {m['from'] or '-':>4} -> {m['to']:<4} {m['kind']:<10} "
            f"{who} ({m['user']}): {m['reason']}"
        )
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from shopfloor.registry.history import rollback

    _tracking()
    move = rollback(checked_name(args), args.to, args.reason or "")
    print(
        f"@champion of {args.model_name}: version {move['from']} -> {move['to']} (recorded); servers following "
        "the alias switch at their next check (--poll-seconds, 10 s by default)"
    )
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from shopfloor.registry.history import promote_challenger

    _tracking()
    move = promote_challenger(checked_name(args), args.reason or "")
    print(f"@champion of {args.model_name}: version {move['from']} -> {move['to']} (the challenger; recorded)")
    return 0


def cmd_copy_model(args: argparse.Namespace) -> int:
    from shopfloor.registry.copy import copy_version

    made = copy_version(
        checked_name(args),
        args.to_tracking_uri,
        alias=args.alias,
        target_name=args.to_model_name,
        force_champion=args.force_champion,
    )
    print(
        f"{args.model_name}@{args.alias} registered at {args.to_tracking_uri} as {made.model_name} version "
        f"{made.version}, @{made.alias}: {made.decision.reason}"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    hist = sub.add_parser("history", help="every move of @champion and @challenger: when, from, to, who, why")
    add_model_name(hist, FAULT_MODEL, "registered model")
    hist.add_argument(
        "--format", choices=("text", "json"), default="text", help="print for people or machines (default: %(default)s)"
    )
    hist.set_defaults(func=cmd_history)
    back = sub.add_parser("rollback", help="move @champion back to the version that held it before (or --to)")
    add_model_name(back, FAULT_MODEL, "registered model")
    back.add_argument("--to", help="this version instead of the previous champion")
    back.add_argument("--reason", help="why, for the history")
    back.set_defaults(func=cmd_rollback)
    prom = sub.add_parser("promote", help="end a trial: the @challenger version takes @champion")
    add_model_name(prom, FAULT_MODEL, "registered model")
    prom.add_argument("--reason", help="why, for the history")
    prom.set_defaults(func=cmd_promote)
    copy = sub.add_parser(
        "copy-model",
        help="register a version of this registry in another MLflow (a local champion on the cluster's MLflow)",
        description="Load the version behind --model-name@--alias from this machine's registry (MLFLOW_TRACKING_URI, "
        "or the embedded store) and register it in the MLflow at --to-tracking-uri: checked, with its run's metrics, "
        "parameters and files, and made @champion there only if it beats that registry's champion (or with "
        "--force-champion). MLFLOW_TRACKING_USERNAME / _PASSWORD authenticate to a server with users.",
    )
    add_model_name(copy, FAULT_MODEL, "registered model to copy")
    copy.add_argument("--alias", default="champion", help="the alias naming the version to copy")
    copy.add_argument(
        "--to-tracking-uri", required=True, help="the MLflow to register it in (e.g. http://127.0.0.1:5000)"
    )
    copy.add_argument("--to-model-name", help="its name there (default: the same name)")
    copy.add_argument(
        "--force-champion", action="store_true", help="make it @champion there whatever the comparison says"
    )
    copy.set_defaults(func=cmd_copy_model)
