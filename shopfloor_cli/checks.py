"""``shopfloor data check FILE --pipeline P``: the file read as ``shopfloor run P --data FILE`` would read it, with
the very options of that command (parsed by its own parser, so the two cannot disagree), and each run's first
check. The reading itself is each pipeline's (``shopfloor.<pipeline>.check``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from shopfloor_cli.common import csv_list

if TYPE_CHECKING:
    from shopfloor.data.check import DataCheck

CHECKED = ("fault-detection", "health-index", "anomaly-detection", "prognosis", "surface-inspection")


def check_for(pipeline: str, path: str | Path, args: argparse.Namespace) -> DataCheck:
    """The data check of ``path`` with the options of ``shopfloor run PIPELINE`` in ``args``."""
    data = str(Path(path).resolve())
    if pipeline == "fault-detection":
        from shopfloor.fault_detection.check import check_table

        report, _, _ = check_table(
            data,
            args.label_column,
            positive=args.positive,
            drop=csv_list(args.drop),
            categorical=csv_list(args.categorical),
            key_column=args.key_column or "",
            time_column=args.time_column or "",
            split=args.split,
            seed=args.seed,
        )
        return report
    if pipeline == "health-index":
        from shopfloor.health_index.check import check_units

        return check_units(
            data,
            args.unit_column,
            args.time_column,
            t_d=args.healthy_steps,
            t_f=args.failed_steps,
            truth=args.truth or "",
            drop=csv_list(args.drop),
            conditions=csv_list(args.condition),
            window=args.window,
            split=args.split,
            seed=args.seed,
        )
    if pipeline == "anomaly-detection":
        from shopfloor.anomaly_detection.check import check_signals

        return check_signals(
            data,
            args.cut_column,
            signals=csv_list(args.signals),
            labels=str(Path(args.labels).resolve()) if args.labels else "",
            window=args.window,
            stride=args.stride,
            split=args.split,
            time_column=args.time_column,
            seed=args.seed,
        )
    if pipeline == "prognosis":
        from shopfloor.prognosis.check import check_curves

        return check_curves(
            data,
            args.case_column,
            args.wear_column,
            cut=args.cut or "",
            valid_cases=csv_list(args.valid_cases),
            test_cases=csv_list(args.test_cases),
            observed=args.observed,
        )
    from shopfloor.surface_inspection.check import check_images

    return check_images(data, args.good_class, min_images=args.min_images, seed=args.seed)


def cmd_check(args: argparse.Namespace) -> int:
    from shopfloor_cli.main import build_parser

    run_args = build_parser().parse_args(["run", args.pipeline, "--data", args.file, *args.extra])
    report = check_for(args.pipeline, args.file, run_args)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.text())
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def add_check_parser(data: argparse._SubParsersAction) -> None:
    check = data.add_parser(
        "check",
        help="read a file as a pipeline would: each column's role, what is left out, the split; nothing trained",
        description="Read FILE as `shopfloor run PIPELINE --data FILE` would, with the same options after "
        "--pipeline (see `shopfloor run PIPELINE --help`), and say what the run would make of it. A problem is a "
        "named error (exit 2); a doubt is a warning (exit 0).",
    )
    check.add_argument("file", help="a CSV or Parquet table, NASA's mill.mat, or a folder or manifest of images")
    check.add_argument("--pipeline", required=True, choices=CHECKED, help="the pipeline to read it as")
    check.add_argument(
        "--format", choices=("text", "json"), default="text", help="print for people or machines (default: text)"
    )
    check.add_argument("--json", metavar="FILE", help="also write the check as JSON to FILE (default: none)")
    check.set_defaults(func=cmd_check, accepts_extra=True)
