"""Random against time-ordered splits on a drifting line: what each split's test figure promises.

A supplier change is phased in over the simulated gearbox line (``drift`` 2, ramped: the bearing-b seats press
14 % harder and the flange screws turn 16 % further by the last unit, the very features two faults move), and each
unit has its ``made_at`` time. The default fault-detection pipeline runs twice on the same table: ``--split
random`` (stratified, the test rows drawn from the whole period) and ``--split time`` (train on the earliest 60 %,
choose on the next 20 % with forward-chaining folds, test on the latest 20 %). A random split scores the model on
rows from the weeks it learned from; the time split scores it on the weeks after, which is what it will meet.

    .venv/bin/python benchmarks/time_split.py [--seeds 0,1,2] [--rows 3000] [--drift 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import mean_sd, save  # noqa: E402
from fault_detection_e2e import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2", help="data seeds (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=3000, help="simulated units (default: %(default)s)")
    parser.add_argument(
        "--drift", type=float, default=2.0, help="drift reached by the last unit (default: %(default)s)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from shopfloor.data.simulate import simulate_gearbox

    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in [int(s) for s in args.seeds.split(",")]:
            table = simulate_gearbox(args.rows, seed=seed, drift=args.drift, ramp=True, made_from="2026-01-05")
            data = Path(scratch) / f"line-{seed}.csv"
            table.to_csv(data, index=False)
            row: dict = {"seed": seed}
            for split in ("random", "time"):
                result = run(
                    "--data", str(data), "--model-name", f"line-{seed}", "--time-column", "made_at", "--split", split
                )
                chosen = result["chosen"]
                row[split] = {
                    "chosen": chosen,
                    "cv_f2": result["cv_f2"][chosen],
                    "test": result["test"][chosen],
                    "wall_seconds": result["wall_seconds"],
                    "ingest": result["steps"][0].strip(),
                }
                print(seed, split, row[split], flush=True)
            runs.append(row)
    summary = {
        split: {
            "test_f2": mean_sd([r[split]["test"]["f2"] for r in runs]),
            "test_pr_auc": mean_sd([r[split]["test"]["pr_auc"] for r in runs]),
            "cv_f2": mean_sd([r[split]["cv_f2"] for r in runs]),
        }
        for split in ("random", "time")
    }
    summary["random_minus_time_test_f2"] = mean_sd([r["random"]["test"]["f2"] - r["time"]["test"]["f2"] for r in runs])
    save(
        "time_split",
        {
            "data": {"rows": args.rows, "drift": args.drift, "ramp": True, "seeds": args.seeds},
            "summary": summary,
            "runs": runs,
            "command": "benchmarks/time_split.py " + " ".join(sys.argv[1:]),
        },
    )


if __name__ == "__main__":
    main()
