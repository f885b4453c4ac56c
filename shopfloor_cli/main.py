"""The ``shopfloor`` command: one front door to data, pipelines, serving, Kubeflow and the MLflow UI.

It lives outside the ``shopfloor`` package because it imports ``pipelines`` (KFP) and ``serving``
(KServe), and ``shopfloor`` must import neither. Each command group has its own module; heavy imports
happen inside each command so that ``shopfloor --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from shopfloor.errors import ShopfloorError
from shopfloor_cli import aliases, data, kubeflow, loop_demo, monitor, predict, prognose, run, serve, tracking


def cmd_ui(args: argparse.Namespace) -> int:
    from shopfloor import config

    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        config.tracking_uri(),
        "--default-artifact-root",
        config.artifact_root(),
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
    ]
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd)


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    from shopfloor_cli.examples import add_examples

    parser = argparse.ArgumentParser(prog="shopfloor", description=__doc__.splitlines()[0])
    try:
        shown = version("shopfloor")
    except PackageNotFoundError:  # run from a source tree that was never installed
        shown = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"shopfloor {shown}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, run, kubeflow, serve, monitor, loop_demo, aliases, prognose, predict, tracking):
        group.add_parser(sub)
    ui = sub.add_parser("ui", help="the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=5000, help="port of the MLflow UI")
    ui.set_defaults(func=cmd_ui)
    show_defaults(parser)
    add_examples(parser)
    return parser


def options(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("shopfloor",)):
    """(command path, action) of every option of ``parser`` and of its subcommands, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from options(sub, (*path, name))
        elif action.option_strings and action.dest not in ("help", "version"):
            yield path, action


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every option that takes a value and has a default says it in its help, written once here rather than in
    each of a hundred help texts (a help that already names its default is left as it is)."""
    for _, action in options(parser):
        quiet = action.nargs == 0 or action.required or action.default in (None, "", False, argparse.SUPPRESS)
        if action.help and not quiet and "default" not in action.help:
            action.help += " (default: %(default)s)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):  # what parse_args does; `data check` passes them on
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    os.environ.setdefault("TQDM_MININTERVAL", "2")
    try:
        return args.func(args)
    except ShopfloorError as exc:
        print(f"shopfloor: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"shopfloor: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
