"""Small registered champions of the kinds that are not classifiers, and their answers written to the prediction
log as the model server writes them, with outcomes: the rows a retraining from the log starts from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.monitoring.outcomes import record_outcomes
from shopfloor.monitoring.prediction_log import Entry, PredictionLog
from shopfloor.registry import REFERENCE, register_model, use_tracking

HEALTH, DETECTOR, WEAR = "hi-line", "mill-line", "wear-line"


def _register(
    home: Path, model: Any, example: Any, name: str, metric: str, artifacts: dict[str, Path] | None = None
) -> None:
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    register_model(
        model,
        example,
        model_name=name,
        experiment="retraining-tests",
        metrics={metric: 0.0},
        params={},
        score_metric=metric,
        artifacts=artifacts,
    )


# ------------------------------------------------------------------ health index
def run_to_failure(units: int, seed: int) -> pd.DataFrame:
    from shopfloor.data.simulate import simulate_run_to_failure

    return simulate_run_to_failure(units=units, min_life=60, max_life=90, n_bands=6, seed=seed).drop(columns="wear")


def register_health(home: Path, table: pd.DataFrame, method: str = "a2ds") -> Any:
    """A health index (``method``: a2ds with a short DeepSAD, or a simple rival) fitted on ``table``'s units."""
    from shopfloor.data.ingest import column_type
    from shopfloor.health_index import selection as sel
    from shopfloor.health_index.estimator import HIConfig
    from shopfloor.health_index.pyfunc import HealthIndexPyfunc

    features = [c for c in table.columns if c not in ("unit", "time")]
    settings = sel.Settings(hi=HIConfig(t_d=0.2, t_f=15, window=3, deepsad={"epochs": 10, "embedding_dim": 4}))
    frames = [g.sort_values("time") for _, g in table.groupby("unit")]
    arrays = sel.unit_arrays(frames, features, None)
    hi = sel.make(method, settings).fit(arrays)
    rul = sel.make_rul("hi", settings, int(np.median([len(a) for a in arrays]))).fit(
        arrays, [hi.transform(a) for a in arrays]
    )
    types = {c: column_type(table[c]) for c in table.columns}
    model = HealthIndexPyfunc(
        hi, features, "unit", "time", types, rul=rul, window=3, method=method, rul_interval=(-10.0, 10.0)
    )
    reference = home / "hi-reference.parquet"
    table.to_parquet(reference, index=False)
    _register(home, model, table[model.inputs.names].head(5), HEALTH, "test_rul_ranking", {REFERENCE: reference})
    return model


def log_health_answers(model: Any, table: pd.DataFrame, requests_per_unit: int = 3, running: tuple = ()) -> int:
    """Each unit's history sent a few times as it runs (the last time at its failure, except for the
    ``running`` units, last sent two thirds into their lives), every answered row's outcome the steps the unit
    still ran; the number of rows logged."""
    log, outcomes, rows = PredictionLog(flush_seconds=60), [], 0
    for unit, g in table.groupby("unit"):
        g = g.sort_values("time").reset_index(drop=True)
        for k in range(1, requests_per_unit + 1):
            sent = g.head(len(g) * k // requests_per_unit * (2 if unit in running else 3) // 3)
            batch = model.inputs.from_input(sent[model.inputs.names])
            request = f"{unit}-{k}"
            log.add(Entry(datetime.now(UTC).timestamp(), HEALTH, "1", request, batch, model.predict_rows(batch)))
            outcomes += [{"request_id": request, "row": i, "label": len(g) - 1 - i} for i in range(len(sent))]
            rows += len(sent)
    log.close()
    assert record_outcomes(HEALTH, outcomes).stored == rows
    return rows


# ------------------------------------------------------------------ anomaly detector
def milling_subcuts(cases: int, seed: int):
    from shopfloor.anomaly_detection import data as milling
    from shopfloor.anomaly_detection.simulate import simulate_milling

    return milling.subcuts(milling.load_table(simulate_milling(cases=cases, samples=800, seed=seed)))


def register_detector(home: Path, sub, kind: str = "beta_vae") -> Any:
    from shopfloor.anomaly_detection.baselines import MahalanobisDetector
    from shopfloor.anomaly_detection.detector import MillingAnomalyDetector
    from shopfloor.anomaly_detection.pyfunc import MillingAnomalyPyfunc
    from shopfloor.anomaly_detection.vae import VAEConfig

    classes = sub.meta["tool_class"].to_numpy().astype(int)
    failed = (classes == 2).astype(int)
    if kind == "beta_vae":
        config = VAEConfig(latent=4, filters=16, dilations=(1, 2), layers=1, epochs=3, patience=3)
        detector = MillingAnomalyDetector(config, seed=0).fit(sub.X, classes, sub.X, classes)
    else:
        detector = MahalanobisDetector().fit(sub.X[classes == 0])
        detector.set_threshold(sub.X, failed)
    typical = MillingAnomalyPyfunc.typical(detector, sub.X[classes == 0])
    model = MillingAnomalyPyfunc(detector, tuple(sub.signal_names), sub.stride, reference=typical)
    _register(home, model, sub.X[:2].astype(np.float32), DETECTOR, "test_ap")
    return model


def log_detector_answers(model: Any, sub) -> int:
    """Each cut's sub-cuts in one request keyed by the cut; the outcome by key: 1 for a failed tool."""
    log, outcomes = PredictionLog(flush_seconds=60), []
    for cut, index in sub.meta.groupby("cut").groups.items():
        batch = model.inputs.from_input(sub.X[np.asarray(index)])
        keys = [str(cut)] * len(index)
        log.add(
            Entry(
                datetime.now(UTC).timestamp(), DETECTOR, "1", f"cut-{cut}", batch, model.predict_rows(batch), keys=keys
            )
        )
        failed = int((sub.meta.loc[index, "tool_class"] == 2).any())
        outcomes.append({"cut": str(cut), "label": failed})
    log.close()
    assert record_outcomes(DETECTOR, outcomes, key_column="cut").stored == len(outcomes)
    return len(sub.X)


# ------------------------------------------------------------------ wear prognosis
def register_wear(home: Path, prior_scale: float = 1.0) -> Any:
    from shopfloor.prognosis import wear_model
    from shopfloor.prognosis.posterior import PosteriorConfig, fit_posterior
    from shopfloor.prognosis.pyfunc import PrognosisPyfunc

    sims = wear_model.simulate(700, prior_scale, seed=0)
    config = PosteriorConfig(context=8, blocks=2, hidden=8, gru_layers=1, epochs=3)
    posterior, _ = fit_posterior(sims.params[:600], sims.observed[:600], sims.params[600:], sims.observed[600:], config)
    model = PrognosisPyfunc(posterior, horizon=5, draws=500, prior_scale=prior_scale)
    _register(home, model, pd.DataFrame({"wear": [[0.0, 0.05, 0.08]]}), WEAR, "neg_test_rmse")
    return model


def log_wear_answers(model: Any, table: pd.DataFrame, keyed: bool = True) -> int:
    """Every tool's wear so far sent after each cut, the outcome the wear measured at the next cut."""
    log, outcomes, answers = PredictionLog(flush_seconds=60), [], 0
    for case, g in table.groupby("case"):
        wear = g.sort_values("cut")["VB"].to_numpy(float)
        for n in range(2, len(wear)):
            batch = model.inputs.from_input(pd.DataFrame({"wear": [list(wear[:n])]}))
            request = f"{case}-{n}"
            log.add(
                Entry(
                    datetime.now(UTC).timestamp(),
                    WEAR,
                    "1",
                    request,
                    batch,
                    model.predict_rows(batch),
                    keys=[str(case)] if keyed else None,
                )
            )
            outcomes.append({"request_id": request, "label": float(wear[n])})
            answers += 1
    log.close()
    assert record_outcomes(WEAR, outcomes).stored == answers
    return answers


# ------------------------------------------------------------------ fault classifier
def log_classifier_answers(model: Any, name: str, rows: int = 1200, seed: int = 7) -> int:
    """A drifted gearbox line answered in requests of 100 rows, every row's outcome fed back by request id."""
    from shopfloor.data.simulate import simulate_gearbox

    line = simulate_gearbox(rows=rows, seed=seed, drift=2.0)
    log, outcomes = PredictionLog(flush_seconds=60), []
    for start in range(0, len(line), 100):
        part = line.iloc[start : start + 100]
        batch = model.inputs.from_input(part.drop(columns=["faulty"]))
        log.add(Entry(datetime.now(UTC).timestamp(), name, "1", f"line-{start}", batch, model.predict_rows(batch)))
        outcomes += [{"request_id": f"line-{start}", "row": i, "label": int(y)} for i, y in enumerate(part["faulty"])]
    log.close()
    assert record_outcomes(name, outcomes, labels=model.details()["labels"]).stored == len(line)
    return len(line)


# ------------------------------------------------------------------ the retraining steps
def uri(home: Path) -> str:
    return f"sqlite:///{home / 'mlflow.db'}"


def retrain(home: Path, name: str, tmp: Path, **settings) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The retraining steps on the logged rows of ``name``, in process; the result (with how the challenger was
    built under ``retrain``), the held-out and the adaptation rows."""
    from shopfloor.retraining import workflow as r

    data = r.write_log_rows(name, "label")
    files = {k: str(tmp / f"{k}.parquet") for k in ("adapt", "holdout", "drift")}
    r.check_step(
        str(data),
        "label",
        tracking_uri=uri(home),
        adapt=files["adapt"],
        holdout=files["holdout"],
        report=files["drift"],
        model_name=name,
    )
    info = r.retrain_step(
        files["adapt"], tracking_uri=uri(home), challenger=str(tmp / "challenger.joblib"), model_name=name, **settings
    )
    result = r.promote_step(
        files["adapt"],
        files["holdout"],
        str(tmp / "challenger.joblib"),
        files["drift"],
        tracking_uri=uri(home),
        model_name=name,
        retrain_info=info,
    )
    return {**result, "retrain": info}, pd.read_parquet(files["holdout"]), pd.read_parquet(files["adapt"])


# ------------------------------------------------------------------ surface inspection
SURFACE = "surface-line"


def surface_images(scale: float, seed: int):
    """Simulated surface images (``scale`` times 20 good and 5 of each defect kind), loaded."""
    import tempfile

    from shopfloor.surface_inspection.data import load
    from shopfloor.surface_inspection.simulate import KINDS, simulate_surfaces

    counts = {"good": round(20 * scale), **{k: max(1, round(5 * scale)) for k in KINDS}}
    with tempfile.TemporaryDirectory() as folder:
        return load(simulate_surfaces(folder, counts, seed=seed), min_images=1)


def register_surface(home: Path) -> Any:
    """A classify-mode champion: the kind's example, a small CNN trained for one epoch (``shopfloor.examples``)."""
    from shopfloor.examples import register_example

    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    return register_example("surface-inspection", SURFACE, experiment="retraining-tests").model


def log_surface_answers(model: Any, scale: float = 2.0, seed: int = 2) -> int:
    """Simulated images answered ten to a request, each image's outcome (1: defective) fed back by request id."""
    data = surface_images(scale, seed)
    log, outcomes = PredictionLog(flush_seconds=60), []
    for start in range(0, len(data), 10):
        batch = model.inputs.from_input(data.images[start : start + 10])
        log.add(Entry(datetime.now(UTC).timestamp(), SURFACE, "1", f"img-{start}", batch, model.predict_rows(batch)))
        outcomes += [
            {"request_id": f"img-{start}", "row": i, "label": int(y)}
            for i, y in enumerate(data.defect[start : start + 10])
        ]
    log.close()
    assert record_outcomes(SURFACE, outcomes).stored == len(data)
    return len(data)
