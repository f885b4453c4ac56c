"""``shopfloor predict``: batch scoring of a file by a registered model, as the server would answer its rows."""

from __future__ import annotations

import argparse
from pathlib import Path

from shopfloor.constants import CHAMPION, check_model_name
from shopfloor_cli.common import add_model_name, write_table


def cmd_predict(args: argparse.Namespace) -> int:
    from shopfloor.data.ingest import read_table
    from shopfloor.registry import champion_version, load_version, use_tracking

    name = check_model_name(args.model_name)
    use_tracking()
    found = champion_version(name, args.alias)
    model = load_version(name, str(found.version))
    table = read_table(args.data)
    scored = model.score_table(table, explain=args.explain)
    out = write_table(scored, args.out)
    answers = [o.name for o in model.outputs]
    print(
        f"scored {len(scored)} rows of {Path(args.data).name} with {name} version {found.version} "
        f"(@{args.alias}): {', '.join(answers)}{' and explanation' if args.explain else ''} written to {out}"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser(
        "predict",
        help="score a CSV or Parquet file with a registered model (batch scoring, no server)",
        description="Score every row of a file with a registered model, checked as the server checks a request "
        "(a bad value is named by its row and column, exit 2), and write the file back with one column per answer.",
    )
    add_model_name(predict, None, "the registered model that scores (required)")
    predict.add_argument("--alias", default=CHAMPION, help="which version: its alias (default: %(default)s)")
    predict.add_argument("--data", required=True, help="CSV or Parquet file with the model's input columns")
    predict.add_argument("--out", required=True, help="CSV or Parquet file to write (by suffix)")
    predict.add_argument(
        "--explain",
        action="store_true",
        help="add an explanation column: each row's explanation as JSON, where the model's kind explains "
        "(default: off)",
    )
    predict.set_defaults(func=cmd_predict)
