"""Lines that ``make demo`` prints, before and after the quiet runs, in one run.

``make demo`` installs (once) and then runs ``shopfloor run fault-detection`` on the simulated gearbox
line. This runs that command from the tree at ``--before`` (unpacked from git) and from this working
tree, each in a fresh ``$SHOPFLOOR_HOME``, and counts the lines each prints (stdout and stderr together,
as a terminal shows them) and how long each took. The install step prints the same in both and is not
counted.

    .venv/bin/python benchmarks/demo_output.py [--before REV]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, save, unpack  # noqa: E402

BEFORE = "47b3376"  # the last commit before quiet runs


def run_demo(tree: Path, home: Path) -> dict:
    env = {**os.environ, "SHOPFLOOR_HOME": str(home), "PYTHONPATH": str(tree)}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "shopfloor_cli.main", "run", "fault-detection"],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(proc.stdout[-3000:])
    return {"lines": len(proc.stdout.splitlines()), "seconds": round(seconds, 1), "output": proc.stdout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        before = run_demo(unpack(args.before, work / "before-tree"), work / "home-before")
        after = run_demo(ROOT, work / "home-after")
    print(after["output"])
    save(
        "demo_output",
        {
            "command": f"benchmarks/demo_output.py --before {args.before}  (counts the lines of "
            "`shopfloor run fault-detection`, what `make demo` runs after its install)",
            "before": {"revision": args.before, "lines": before["lines"], "seconds": before["seconds"]},
            "after": {"lines": after["lines"], "seconds": after["seconds"]},
            "after_output": after["output"].splitlines(),
        },
    )


if __name__ == "__main__":
    main()
