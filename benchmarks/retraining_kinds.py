"""Retraining the health index, the anomaly detector and the wear prognosis from their served answers.

For each kind, in a data directory of its own: the pipeline trains a champion on the simulated line (settings
below, smaller than the defaults so the three fit in minutes on two cores); the model server follows it; a
changed line is replayed through the server over HTTP (v1), and the outcomes of every answer are fed back
over REST by request id; ``shopfloor run retraining --from-log`` takes the logged answers with their outcomes
as new training rows. Figures: the champion's live quality on the changed line (the server's own gauge
computation over the log), champion and challenger on the same held-out rows, the decision, the times; and,
for the wear prognosis, champion, challenger and a least-squares curve fit over five more fleets (in process),
since six held-out tools make one fleet's figures noisy.

The changes replayed:
- health index: a harder duty cycle, units living 70-120 steps where the champion learned 120-260;
- anomaly detector: the table vibration sensor replaced by one of 1.6x the sensitivity;
- wear prognosis: a tool fleet whose wear parameters follow N(0, 0.3^2) (Russell and Wang's public code's
  prior) where the champion learned N(0, 1).

    .venv/bin/python benchmarks/retraining_kinds.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import save  # noqa: E402

from shopfloor.constants import ANOMALY_MODEL, HEALTH_MODEL, PROGNOSIS_MODEL  # noqa: E402
from shopfloor_cli.loop_demo import post  # noqa: E402

TRAIN = {
    "health-index": ["--epochs", "200", "--timeout", "240"],
    "anomaly-detection": ["--trials", "3", "--epochs", "30", "--timeout", "240"],
    "prognosis": ["--epochs", "40", "--train", "4000", "--valid", "1000"],
}


def shopfloor(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "shopfloor_cli.main", *args], check=True)


def feed(url: str, model: str, outcomes: list[dict]) -> None:
    for start in range(0, len(outcomes), 500):
        post(f"{url}/v1/models/{model}/feedback", {"outcomes": outcomes[start : start + 500]})


# ------------------------------------------------------------------ the changed lines, replayed
def replay_health(url: str, model: str, table: pd.DataFrame, every: int = 10) -> int:
    """Each unit's history so far sent every ``every`` steps and at its failure; outcome: the life left."""
    answered = 0
    for _, g in table.groupby("unit"):
        g = g.sort_values("time").reset_index(drop=True)
        records = g.drop(columns="wear").to_dict("records")
        outcomes = []
        for end in [*range(every, len(g), every), len(g)]:
            body = post(f"{url}/v1/models/{model}:predict", {"instances": records[:end]})
            outcomes += [{"request_id": body["request_id"], "row": i, "label": len(g) - 1 - i} for i in range(end)]
            answered += end
        feed(url, model, outcomes)
    return answered


def replay_milling(url: str, model: str, sub) -> int:
    """Each cut's sub-cuts in one request; outcome per sub-cut: 1 when the cut's tool failed."""
    outcomes, answered = [], 0
    for _, index in sub.meta.groupby("cut").groups.items():
        index = np.asarray(index)
        body = post(f"{url}/v1/models/{model}:predict", {"instances": sub.X[index].tolist()})
        failed = int((sub.meta.loc[index, "tool_class"] == 2).any())
        outcomes += [{"request_id": body["request_id"], "row": i, "label": failed} for i in range(len(index))]
        answered += len(index)
    feed(url, model, outcomes)
    return answered


def replay_wear(url: str, model: str, table: pd.DataFrame) -> int:
    """Each tool's wear so far sent after every cut; outcome: the wear measured at the next cut."""
    outcomes = []
    for _, g in table.groupby("case"):
        wear = g.sort_values("cut")["VB"].tolist()
        for n in range(2, len(wear)):
            body = post(f"{url}/v1/models/{model}:predict", {"instances": [wear[:n]]})
            outcomes.append({"request_id": body["request_id"], "label": wear[n]})
    feed(url, model, outcomes)
    return len(outcomes)


def changed_line(pipeline: str, data: Path):
    from shopfloor.anomaly_detection import data as milling
    from shopfloor.anomaly_detection.simulate import simulate_milling
    from shopfloor.data.simulate import simulate_run_to_failure
    from shopfloor.prognosis.wear_model import wear_table

    if pipeline == "health-index":
        return simulate_run_to_failure(units=16, min_life=70, max_life=120, seed=21)
    if pipeline == "anomaly-detection":
        table = simulate_milling(cases=10, seed=11)
        table["vib_table"] *= 1.6
        return milling.subcuts(milling.load_table(table))
    return wear_table(cases=16, seed=5, prior_scale=0.3)


REPLAY = {"health-index": replay_health, "anomaly-detection": replay_milling, "prognosis": replay_wear}
MODELS = {"health-index": HEALTH_MODEL, "anomaly-detection": ANOMALY_MODEL, "prognosis": PROGNOSIS_MODEL}


def one_kind(pipeline: str, root: Path) -> dict:
    from loadtest.run import local_server
    from shopfloor.monitoring.live_quality import live_quality

    home = root / pipeline
    os.environ["SHOPFLOOR_HOME"] = str(home)
    model = MODELS[pipeline]
    started = time.perf_counter()
    shopfloor("run", pipeline, *TRAIN[pipeline], "--json", str(root / f"{pipeline}-train.json"))
    trained = time.perf_counter() - started
    line = changed_line(pipeline, root)
    with local_server(model, extra=["--poll-seconds", "0"], log=root / f"{pipeline}-serve.log") as url:
        began = time.perf_counter()
        answered = REPLAY[pipeline](url, model, line)
        replayed = time.perf_counter() - began
    [live] = live_quality(model)
    began = time.perf_counter()
    out = root / f"{pipeline}-retraining.json"
    shopfloor("run", "retraining", "--model-name", model, "--from-log", "--json", str(out))
    retrained = time.perf_counter() - began
    result = json.loads(out.read_text())
    return {
        "champion_live": {"version": live.version, "labelled_rows": live.rows, **live.metrics},
        "answered_rows": answered,
        "new_rows": result["check"]["rows"],
        "groups": {"adapt_and_holdout": result["check"].get("groups"), "what": result["check"].get("group")},
        "holdout_rows": result["holdout_rows"],
        "metric": result["metric"],
        "champion_holdout": result["scores"]["champion"],
        "challenger_holdout": result["scores"]["challenger"],
        "promoted": result["promoted"],
        "decision": result["reason"],
        "method": result["retrain"]["method"],
        "train_seconds": trained,
        "replay_seconds": replayed,
        "retraining_seconds": retrained,
        # of the retraining run, what building the challenger took; the rest is three pipeline steps starting,
        # loading the champion and registering
        "challenger_seconds": result["retrain"]["seconds"],
    }


def wear_champion():
    """A wear prognosis as the benchmark trains one (4,000 simulated curves, 40 epochs, prior N(0, 1)), in process."""
    from shopfloor.prognosis import wear_model as wear_model
    from shopfloor.prognosis.posterior import PosteriorConfig, fit_posterior
    from shopfloor.prognosis.pyfunc import PrognosisPyfunc

    sims = wear_model.simulate(5000, 1.0, seed=0)
    posterior, _ = fit_posterior(
        sims.params[:4000],
        sims.observed[:4000],
        sims.params[4000:],
        sims.observed[4000:],
        PosteriorConfig(epochs=40, patience=50),
    )
    return PrognosisPyfunc(posterior, prior_scale=1.0)


def fleet(seed: int, tools: int = 16) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fleet of simulated tools whose (a, b) follow N(0, 0.3^2): ten to adapt on, the rest held out."""
    from shopfloor.prognosis.wear_model import wear_table

    table = wear_table(cases=tools, seed=seed, prior_scale=0.3)
    cases = sorted(table["case"].unique())
    return table[table["case"].isin(cases[:10])], table[table["case"].isin(cases[10:])]


def curve_fit_rmse(rows: pd.DataFrame) -> float:
    """The simple rival on the same held-out curves: Eq. 20 fitted by least squares to each curve's observed cuts
    and extrapolated, scored as the prognosis is (the median forecast's RMSE on the cuts that followed)."""
    from shopfloor.defaults import PROGNOSIS
    from shopfloor.prognosis.forecast import rmse
    from shopfloor.prognosis.retrain import MIN_CUTS, curves_of, fit_params
    from shopfloor.prognosis.wear_model import curves

    errors = []
    for curve in curves_of(rows).values():
        if len(curve) < MIN_CUTS:
            continue
        seen = min(PROGNOSIS.observed, len(curve) - 1)
        theta = fit_params(curve[:seen], np.array([0.5, 0.1]))
        errors.append(rmse(curves(theta[None, :], len(curve))[0][seen:], curve[seen:]))
    return float(np.mean(errors))


def wear_fleets(seeds: range = range(100, 105)) -> dict:
    """The wear challenger's spread over fleets: one champion, then for each fleet a challenger from ten tools
    scored with the champion, and the curve fit, on the other six. Six held-out tools make one fleet's figures
    noisy; this says how noisy."""
    from shopfloor.defaults import RETRAINING
    from shopfloor.prognosis.retrain import PrognosisRetrainer

    champion, retrainer, rows = wear_champion(), PrognosisRetrainer(), []
    settings = {"fine_tune_epochs": RETRAINING.fine_tune_epochs, "simulations": RETRAINING.simulations}
    for seed in seeds:
        adapt, held = fleet(seed)
        challenger, _ = retrainer.challenger(
            champion, adapt, reference=None, seed=seed - seeds.start, settings=settings
        )
        old, new = retrainer.score(champion, held), retrainer.score(challenger, held)
        rows.append(
            {
                "fleet": seed,
                "champion_rmse": old["rmse"],
                "challenger_rmse": new["rmse"],
                "curve_fit_rmse": curve_fit_rmse(held),
                "champion_coverage": old["coverage"],
                "challenger_coverage": new["coverage"],
            }
        )
    frame = pd.DataFrame(rows)
    summary = {c: {"mean": float(frame[c].mean()), "sd": float(frame[c].std())} for c in frame.columns if c != "fleet"}
    return {"fleets": rows, "summary": summary}


def main() -> None:
    kinds = sys.argv[1:] or list(REPLAY)
    with tempfile.TemporaryDirectory() as tmp:
        results = {kind: one_kind(kind, Path(tmp)) for kind in kinds}
    for kind, r in results.items():
        print(f"{kind}: {r['decision']}")
    fleets = wear_fleets() if "prognosis" in kinds else None
    if fleets:
        print("wear prognosis over fleets:", json.dumps(fleets["summary"]))
    save(
        "retraining_kinds",
        {"settings": {k: " ".join(v) for k, v in TRAIN.items()}, "kinds": results, "wear_fleets": fleets},
    )


if __name__ == "__main__":
    main()
