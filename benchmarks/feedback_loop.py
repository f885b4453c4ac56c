"""The feedback loop end to end, as ``shopfloor demo-loop`` runs it in a data directory of its own.

Fault detection trains the champion on the simulated steady line; the model server follows it; 1,500 parts of
the steady line, then 1,500 after a supplier change (drift 2), are answered and their outcomes fed back by
part id; retraining takes the drifted line's logged answers with their outcomes; 1,500 more drifted parts are
answered by the promoted version. Figures: the live quality of each phase (the served version's F2,
precision, recall, PR-AUC on the answers of that phase), the retraining decision, the loop's time without
and with training the first champion.

    .venv/bin/python benchmarks/feedback_loop.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "loop.json"
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "shopfloor_cli.main",
                "demo-loop",
                "--home",
                str(Path(tmp) / "home"),
                "--json",
                str(out),
            ],
            check=True,
            cwd=tmp,
        )
        total = time.perf_counter() - start
        result = json.loads(out.read_text())
    save(
        "feedback_loop",
        {
            "phases": result["phases"],
            "decision": result["retraining"]["reason"],
            "promoted": result["retraining"]["promoted"],
            "loop_seconds": result["seconds"],
            "total_seconds_with_first_champion": total,
        },
    )


if __name__ == "__main__":
    main()
