"""MkDocs hook: command examples run at build time. A page line ``<!-- run: shopfloor ARGS -->`` becomes the
command and the output it printed on this build, so an example cannot drift from what the command does. The
files an example names are made first by the simulators (``FILES``), in a scratch folder the command runs in."""

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
MAX_LINES = 40  # longer output keeps its first and last lines, the middle counted


def _line(path: Path) -> None:
    from shopfloor.data.simulate import simulate_gearbox

    simulate_gearbox(3000, seed=0, drift=2.0, ramp=True, made_from="2026-01-05").to_csv(path, index=False)


def _units(path: Path) -> None:
    from shopfloor.data.simulate import simulate_run_to_failure

    simulate_run_to_failure(units=12, seed=0).to_csv(path, index=False)


FILES: dict[str, Callable[[Path], None]] = {"line.csv": _line, "units.csv": _units}


def _shortened(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= MAX_LINES:
        return "\n".join(lines)
    head, tail = lines[:15], lines[-(MAX_LINES - 16) :]
    return "\n".join([*head, f"  ... ({len(lines) - len(head) - len(tail)} more lines)", *tail])


def run(command: str) -> str:
    """``command`` (``shopfloor ...``) run in this process in a scratch folder holding the files it names; its
    output, which must be a success."""
    from shopfloor_cli.main import main

    argv = shlex.split(command)[1:]
    with tempfile.TemporaryDirectory() as scratch:
        for name, make in FILES.items():
            if name in argv:
                make(Path(scratch) / name)
        before = Path.cwd()
        out = io.StringIO()
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(out):
                code = main(argv)
        finally:
            os.chdir(before)
    if code != 0:
        raise RuntimeError(f"the docs example {command!r} exited {code}")
    return out.getvalue().replace(scratch, ".")


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda m: f"```console\n$ {m.group(1)}\n{_shortened(run(m.group(1)))}\n```", markdown)
