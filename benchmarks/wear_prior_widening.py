"""How much to widen the prior a wear-prognosis challenger refits to new curves (``shopfloor.prognosis.retrain``).

One champion (4,000 simulated curves, 40 epochs, prior N(0, 1)); ten validation fleets of 16 simulated tools
whose (a, b) follow N(0, 0.3^2) (seeds 200-209, none of them reported elsewhere); for each widening, a
challenger from ten tools of each fleet, scored on the other six. The rule, fixed before the run: the smallest
mean RMSE among widenings whose mean 10-90 % band coverage is at least 0.7.

    .venv/bin/python benchmarks/wear_prior_widening.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import save  # noqa: E402

WIDENINGS = (0.05, 0.1, 0.2, 0.3)
FLEETS = range(200, 210)
MIN_COVERAGE = 0.7


def main() -> None:
    from retraining_kinds import fleet, wear_champion

    import shopfloor.prognosis.retrain as wear_refit
    from shopfloor.defaults import RETRAINING

    champion, retrainer = wear_champion(), wear_refit.PrognosisRetrainer()
    fleets = [fleet(seed) for seed in FLEETS]
    settings = {"fine_tune_epochs": RETRAINING.fine_tune_epochs, "simulations": RETRAINING.simulations}
    rows, chosen = [], wear_refit.WIDEN
    try:
        for widen in WIDENINGS:
            wear_refit.WIDEN = widen
            scores = [
                retrainer.score(
                    retrainer.challenger(champion, adapt, reference=None, seed=i, settings=settings)[0], held
                )
                for i, (adapt, held) in enumerate(fleets)
            ]
            frame = pd.DataFrame(scores)
            rows.append(
                {"widen": widen, "rmse": float(frame["rmse"].mean()), "coverage": float(frame["coverage"].mean())}
            )
            print(rows[-1], flush=True)
    finally:
        wear_refit.WIDEN = chosen
    champion_scores = pd.DataFrame([retrainer.score(champion, held) for _, held in fleets])
    eligible = [r for r in rows if r["coverage"] >= MIN_COVERAGE]
    best = min(eligible, key=lambda r: r["rmse"])["widen"] if eligible else None
    save(
        "wear_prior_widening",
        {
            "rule": f"smallest mean RMSE with mean coverage >= {MIN_COVERAGE}",
            "fleets": f"{FLEETS.start}-{FLEETS.stop - 1}",
            "widenings": rows,
            "chosen": best,
            "in_use": chosen,
            "champion": {
                "rmse": float(champion_scores["rmse"].mean()),
                "coverage": float(champion_scores["coverage"].mean()),
            },
        },
    )


if __name__ == "__main__":
    main()
