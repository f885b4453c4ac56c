"""The tool-wear prognosis workflow as plain functions over files, one per pipeline step.

simulate (prior draws of (a, b) kept by the rejection rule, their noisy curves: 12,000 to train, 3,000 to
validate) -> train (GRU summary + conditional RealNVP by NLL) -> evaluate (after ``observed`` cuts of each
validation / test curve: as many posterior draws as the model serves, ``PROGNOSIS.draws``; the median forecast's
RMSE on the cuts that followed, the 10-90 % band's coverage, Russell and Wang's Figs. 9-10) -> register (one MLflow
model: a wear sequence in, the forecast and the cuts left out) -> deploy. Without a table, the evaluation curves
are simulated too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.constants import EXPERIMENTS, PROGNOSIS_MODEL
from shopfloor.defaults import PROGNOSIS
from shopfloor.errors import DataError
from shopfloor.prognosis import wear_model as wear_model
from shopfloor.prognosis.curves import evaluation_curves
from shopfloor.progress import reported

EXPERIMENT = EXPERIMENTS["prognosis"]
SCORE = "test_rmse"


@reported(
    "simulate prior",
    summary=lambda i: (
        f"{i['train']} + {i['valid']} curves kept of {i['drawn']} drawn "
        f"(prior N(0, {i['prior_scale']:g}^2), {i['acceptance']:.1%} kept)"
    ),
)
def simulate_step(
    out: str,
    *,
    n_train: int = PROGNOSIS.n_train,
    n_valid: int = PROGNOSIS.n_valid,
    prior_scale: float = PROGNOSIS.prior_scale,
    seed: int = PROGNOSIS.seed,
) -> dict[str, Any]:
    if n_train < 100 or n_valid < 10:
        raise DataError("train", "simulate at least 100 training and 10 validation curves")
    if prior_scale <= 0:
        raise DataError("prior-scale", f"must be positive, got {prior_scale}")
    sims = wear_model.simulate(n_train + n_valid, prior_scale, seed=seed)
    with open(out, "wb") as handle:
        np.savez(handle, params=sims.params, observed=sims.observed, n_train=n_train, prior_scale=prior_scale)
    return {
        "train": n_train,
        "valid": n_valid,
        "drawn": sims.drawn,
        "prior_scale": prior_scale,
        "acceptance": (n_train + n_valid) / sims.drawn,
    }


@reported(
    "train flow + GRU",
    summary=lambda i: (
        f"best validation NLL {i['best_valid_nll']:.3f} at epoch "
        f"{i['best_epoch']} of {i['epochs']}, {i['seconds']:.0f} s"
    ),
)
def train_step(
    simulations: str,
    *,
    model_path: str,
    history_path: str,
    epochs: int = PROGNOSIS.epochs,
    patience: int = PROGNOSIS.patience,
    lr: float = PROGNOSIS.lr,
    gru_layers: int = PROGNOSIS.gru_layers,
    context: int = PROGNOSIS.context,
    blocks: int = PROGNOSIS.blocks,
    hidden: int = PROGNOSIS.hidden,
    seed: int = PROGNOSIS.seed,
) -> dict[str, Any]:
    from shopfloor.prognosis.posterior import PosteriorConfig, fit_posterior

    with np.load(simulations) as data:
        params, observed, n = data["params"], data["observed"], int(data["n_train"])
        prior_scale = float(data["prior_scale"])
    config = PosteriorConfig(
        gru_layers=gru_layers, context=context, blocks=blocks, hidden=hidden, lr=lr, epochs=epochs, patience=patience
    )
    posterior, info = fit_posterior(
        params[:n], observed[:n], params[n:], observed[n:], config, seed=seed, progress=True
    )
    joblib.dump({"posterior": posterior, "prior_scale": prior_scale}, model_path)
    pd.DataFrame(info.pop("history")).to_csv(history_path, index=False)
    return {**info, **config.to_dict(), "prior_scale": prior_scale}


#: The methods a prognosis run compares: Russell and Wang's amortized flow, and the tool's own curve fit.
FLOW, CURVE_FIT = "flow", "curve-fit"


def posteriors(bundle: dict[str, Any]) -> dict[str, Any]:
    """The trained flow and its rival, the curve fit under the same prior (``shopfloor.prognosis.curve_fit``)."""
    from shopfloor.prognosis.curve_fit import CurveFit

    return {FLOW: bundle["posterior"], CURVE_FIT: CurveFit.with_prior_scale(float(bundle["prior_scale"]))}


def comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per method: mean RMSE and band coverage on each split, median seconds per forecast."""
    rows = []
    for method, group in frame.groupby("method", sort=False):
        row: dict[str, Any] = {"method": method}
        for split, part in group.groupby("split"):
            row[f"{split}_rmse"] = float(part["rmse"].mean())
            row[f"{split}_coverage"] = float(part["coverage"].mean())
        row["seconds"] = float(group["seconds"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def chosen_method(table: pd.DataFrame) -> str:
    """The method with the lower validation RMSE; the flow where there are no validation curves (ties: the flow)."""
    if "valid_rmse" not in table.columns:
        return FLOW
    ranked = table.sort_values("valid_rmse", kind="stable")
    return str(ranked["method"].iloc[0])


@reported(
    "evaluate",
    summary=lambda m: ", ".join(
        f"{k} {m[k]:.3f}" for k in ("valid_rmse", "test_rmse", "test_coverage", "sample_seconds") if k in m
    ),
)
def evaluate_step(
    model_path: str,
    *,
    plots: str,
    table_path: str,
    data: str = "",
    case: str = PROGNOSIS.case,
    wear: str = PROGNOSIS.wear,
    cut: str = "",
    valid_cases: list[str] | None = None,
    test_cases: list[str] | None = None,
    observed: int = PROGNOSIS.observed,
    limit: float = 0.7,
    seed: int = PROGNOSIS.seed,
) -> dict[str, float]:
    """Forecast every evaluation curve after ``observed`` cuts with the flow and with its rival; RMSE, coverage and
    time of each per curve (``table_path``); the figures of the one chosen on validation (Figs. 9-10). The metrics
    are the chosen method's, and each method's under its own prefix."""
    from shopfloor.prognosis.forecast import coverage, forecast, rmse
    from shopfloor.prognosis.plots import prognosis_grid

    candidates = posteriors(joblib.load(model_path))
    splits = evaluation_curves(data, case, wear, cut, list(valid_cases or []), list(test_cases or []), seed)
    rows, shown = [], {}
    for method, posterior in candidates.items():
        for split, curves in splits.items():
            for key, curve in curves.items():
                if len(curve) <= observed:
                    continue  # nothing after the observed cuts to score
                started = time.perf_counter()
                params = posterior.sample(curve[:observed], PROGNOSIS.draws, seed=seed)
                result = forecast(params, curve[:observed], len(curve) - observed, limit, seed=seed)
                seconds = time.perf_counter() - started
                rows.append(
                    {
                        "method": method,
                        "split": split,
                        "case": key,
                        "cuts": len(curve),
                        "rmse": rmse(result.median, curve[observed:]),
                        "coverage": coverage(result, curve[observed:]),
                        "seconds": seconds,
                        "remaining_cuts": result.remaining[1],
                    }
                )
                shown[(method, f"{split}: case {key}")] = (curve, result)
    if not rows:
        raise DataError("observed", f"no evaluation curve is longer than the {observed} observed cuts")
    frame = pd.DataFrame(rows)
    frame.to_csv(table_path, index=False)
    chosen = chosen_method(comparison(frame))
    metrics: dict[str, float] = {}
    for method, group in frame.groupby("method"):
        prefix = "" if method == chosen else f"{method.replace('-', '_')}_"
        for split, part in group.groupby("split"):
            metrics[f"{prefix}{split}_rmse"] = float(part["rmse"].mean())
            metrics[f"{prefix}{split}_coverage"] = float(part["coverage"].mean())
            if not prefix:
                for r in part.itertuples():
                    metrics[f"{split}_rmse_case_{r.case}"] = float(r.rmse)
        metrics[f"{prefix}sample_seconds"] = float(group["seconds"].median())
    folder = Path(plots)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {name: curves for (method, name), curves in shown.items() if method == chosen}
    prognosis_grid(figures, observed, folder / "prognosis.png", limit)
    return metrics


@reported("register", summary=lambda r: f"{r['model_name']} version {r['version']} as @{r['alias']}")
def register_step(
    model_path: str,
    metrics: dict[str, float],
    *,
    tracking_uri: str,
    model_name: str = PROGNOSIS_MODEL,
    horizon: int = PROGNOSIS.horizon,
    limit: float = 0.7,
    plots: str | None = None,
    files: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    curves_table: str | None = None,
) -> dict[str, Any]:
    """Register the method chosen on validation (the flow, or the curve fit; ``curves_table`` is the evaluation's
    per-curve table) with its forecast settings as one MLflow model, the comparison beside it."""
    from shopfloor.prognosis.pyfunc import PrognosisPyfunc
    from shopfloor.registry import register_model, use_tracking

    bundle = joblib.load(model_path)
    table = comparison(pd.read_csv(curves_table)) if curves_table else pd.DataFrame({"method": [FLOW]})
    chosen = chosen_method(table)
    posterior = posteriors(bundle)[chosen]
    model = PrognosisPyfunc(posterior, horizon=horizon, limit=limit, prior_scale=bundle["prior_scale"])
    example = pd.DataFrame({"wear": [[0.0, 0.05, 0.08, 0.1, 0.12, 0.14]]})
    artifacts = {f"plots/{p.name}": p for p in sorted(Path(plots).glob("*.png"))} if plots else {}
    artifacts |= {name: Path(path) for name, path in (files or {}).items()}
    use_tracking(tracking_uri)
    score = SCORE if SCORE in metrics else next(iter(metrics))
    # lower RMSE is better: the registry promotes the higher score, so it compares the negated RMSE
    reg = register_model(
        model,
        example,
        model_name=model_name,
        experiment=EXPERIMENT,
        metrics={**metrics, "neg_" + score: -metrics[score]},
        params=params or {},
        score_metric="neg_" + score,
        artifacts=artifacts or None,
        tables={"comparison.json": table} if curves_table else None,
        tags={"shopfloor.pipeline": "prognosis", "shopfloor.chosen": chosen},
    )
    return {
        "model_name": reg.model_name,
        "version": reg.version,
        "alias": reg.alias,
        "run_id": reg.run_id,
        "report_html": reg.report_uri,
        score: metrics[score],
        "previous_champion": reg.previous_champion_score,
        "metrics": metrics,
        "chosen": chosen,
        "comparison": table.to_dict(orient="records"),
    }


def write_json(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=float))
