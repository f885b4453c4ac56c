"""MkDocs hook: command examples run at build time. A page line ``<!-- run: shopfloor ARGS -->`` becomes the
command and the output it printed on this build, so an example cannot drift from what the command does; a line
``<!-- fails: shopfloor ARGS -->`` the same for a command that must fail: its error and its exit code. The files
an example names are made first by the simulators (``FILES``), in a scratch folder the command runs in."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path

MARKER = re.compile(r"^<!-- run: (shopfloor .+?) -->$", re.M)
FAILING = re.compile(r"^<!-- fails: (shopfloor .+?) -->$", re.M)
MAX_LINES = 40  # longer output keeps its first and last lines, the middle counted


def _line(path: Path) -> None:
    from shopfloor.data.simulate import simulate_gearbox

    simulate_gearbox(3000, seed=0, drift=2.0, ramp=True, made_from="2026-01-05").to_csv(path, index=False)


def _units(path: Path) -> None:
    from shopfloor.data.simulate import simulate_run_to_failure

    simulate_run_to_failure(units=12, seed=0).to_csv(path, index=False)


def _signals(path: Path) -> None:
    from shopfloor.anomaly_detection.simulate import simulate_milling

    simulate_milling(cases=4, samples=500, seed=0).to_csv(path, index=False)


def _wear(path: Path) -> None:
    from shopfloor.prognosis.wear_model import wear_table

    wear_table(cases=6, seed=0).to_csv(path, index=False)


FILES: dict[str, Callable[[Path], None]] = {
    "line.csv": _line,
    "units.csv": _units,
    "signals.csv": _signals,
    "wear.csv": _wear,
}
HEAD = re.compile(r"^<!-- head: (\S+)(?: (\S+))? -->$", re.M)  # a file, and the columns to show (default: first)
HEAD_COLUMNS = 8  # a wider table is cut after this many columns, the rest counted


def _shortened(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= MAX_LINES:
        return "\n".join(lines)
    head, tail = lines[:15], lines[-(MAX_LINES - 16) :]
    return "\n".join([*head, f"  ... ({len(lines) - len(head) - len(tail)} more lines)", *tail])


def _call(command: str) -> tuple[int, str, str]:
    """``command`` (``shopfloor ...``) run in this process in a scratch folder holding the files it names: its exit
    code, what it printed and what it wrote to stderr (argparse's own exits included)."""
    from shopfloor_cli.main import main

    argv = shlex.split(command)[1:]
    with tempfile.TemporaryDirectory() as scratch:
        for name, make in FILES.items():
            if name in argv:
                make(Path(scratch) / name)
        before = Path.cwd()
        out, err = io.StringIO(), io.StringIO()
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as done:
                    code = done.code if isinstance(done.code, int) else 1
        finally:
            os.chdir(before)
    return code, out.getvalue().replace(scratch, "."), err.getvalue().replace(scratch, ".")


def run(command: str) -> str:
    """The output of ``command``, which must succeed."""
    code, out, err = _call(command)
    if code != 0:
        raise RuntimeError(f"the docs example {command!r} exited {code}: {err}")
    return out


def fails(command: str) -> str:
    """The error of ``command``, which must fail, and its exit code."""
    code, _, err = _call(command)
    if code == 0:
        raise RuntimeError(f"the docs example {command!r} was to fail and exited 0")
    return f"{err.rstrip()}\n$ echo $?\n{code}"


def head(name: str, chosen: str | None = None) -> str:
    """The first five rows of the simulated file ``name`` as a Markdown table: the ``chosen`` columns
    (comma-separated), or its first ones."""
    import pandas as pd

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / name
        FILES[name](path)
        table = pd.read_csv(path)
    shown = table[chosen.split(",")].head(5) if chosen else table.iloc[:5, :HEAD_COLUMNS]
    columns = [f"`{c}`" for c in shown.columns]
    hidden = table.shape[1] - shown.shape[1]
    if hidden:
        columns.append(f"... {hidden} more")
    rows = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in shown.iterrows():
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.tolist()]
        rows.append("| " + " | ".join(cells + ([""] if hidden else [])) + " |")
    return f"`{name}`, {len(table)} rows and {table.shape[1]} columns; its first rows:\n\n" + "\n".join(rows)


def vocabulary() -> str:
    """The command line's shared flags as a Markdown table, from ``shopfloor_cli.vocabulary``."""
    from shopfloor_cli.vocabulary import RETIRED, VOCABULARY

    rows = ["| flag | means | not |", "|---|---|---|"]
    for flag, (meaning, _) in VOCABULARY.items():
        old = ", ".join(f"`{o}`" for o, new in RETIRED.items() if new.startswith(flag))
        rows.append(f"| `{flag}` | {meaning} | {old} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = markdown.replace("<!-- vocabulary -->", vocabulary())
    markdown = HEAD.sub(lambda m: head(m.group(1), m.group(2)), markdown)
    markdown = MARKER.sub(lambda m: f"```console\n$ {m.group(1)}\n{_shortened(run(m.group(1)))}\n```", markdown)
    return FAILING.sub(lambda m: f"```console\n$ {m.group(1)}\n{_shortened(fails(m.group(1)))}\n```", markdown)
