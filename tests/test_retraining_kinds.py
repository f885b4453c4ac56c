"""Retraining every kind of model from its served answers with outcomes: a health index on new run-to-failure
units, an anomaly detector on new healthy cuts, a wear prognosis on new wear curves. Each registers a challenger
scored on the same held-out rows as the champion, and bad rows are named."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from helpers.kind_fixtures import (
    DETECTOR,
    HEALTH,
    WEAR,
    log_detector_answers,
    log_health_answers,
    log_wear_answers,
    milling_subcuts,
    register_detector,
    register_health,
    register_wear,
    retrain,
    run_to_failure,
)
from mlflow import MlflowClient

from shopfloor.errors import DataError
from shopfloor.retraining.base import split_groups


def logged_metrics(name: str, version: int) -> dict[str, float]:
    client = MlflowClient()
    return client.get_run(client.get_model_version(name, str(version)).run_id).data.metrics


def assert_scored_on_the_same_rows(kind: str, name: str, result: dict, holdout: pd.DataFrame) -> None:
    """The figures logged on the challenger's run are both models' scores on exactly the held-out rows."""
    from shopfloor.kinds import retrainer_for
    from shopfloor.registry import load_version

    retrainer = retrainer_for(kind)
    metrics = logged_metrics(name, result["version"])
    for role, version in (("", result["version"]), ("champion_", result["champion_version"])):
        again = retrainer.score(load_version(name, version), holdout)
        for metric, value in again.items():
            assert metrics[f"{role}test_{metric}"] == pytest.approx(value, rel=1e-9, abs=1e-12), (role, metric)
    assert result["promoted"] == (result["challenger"] >= result["champion"])


def test_split_keeps_groups_whole_and_the_rare_class_on_both_sides():
    groups = pd.Series(np.repeat([f"c{i}" for i in range(10)], 5))
    rare = pd.Series(np.repeat([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], 5))
    adapt, holdout = split_groups(groups, rare, 0.4, seed=3)
    assert not set(groups[adapt]) & set(groups[holdout])  # no group on both sides
    assert rare[adapt].any() and rare[holdout].any() and (rare[holdout] == 0).any()
    assert holdout.sum() == 5 * (1 + 3)  # round(0.4 * 3) failed groups and round(0.4 * 7) others


def test_a_health_index_retrains_on_new_units_whose_failure_is_on_record(home, tmp_path, capsys):
    """Through the command line: the logged answers of units that failed become run-to-failure units added to
    the champion's own; a unit still running is left out; both models scored on the same held-out units."""
    from shopfloor.registry import reference_rows
    from shopfloor.registry.history import history
    from shopfloor_cli.main import main

    register_health(home, run_to_failure(6, seed=1))
    new = run_to_failure(7, seed=2)
    from shopfloor.registry import load_version

    log_health_answers(load_version(HEALTH, 1), new, running=(7,))
    out = tmp_path / "retraining.json"
    assert main(["run", "retraining", "--model-name", HEALTH, "--from-log", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    failed = new[new["unit"] != 7]
    assert result["check"]["rows"] == len(failed) and result["check"]["groups"] == 6  # unit 7 left out
    assert result["kind"] == "health-index" and result["metric"] == "rul_ranking"
    assert "champion v1 and challenger on the same" in capsys.readouterr().out
    metrics = logged_metrics(HEALTH, 2)
    assert {"test_rul_ranking", "champion_test_rul_ranking", "test_rul_rmse", "champion_test_rul_rmse"} <= set(metrics)
    # the challenger learned from the champion's six units and the new adaptation units, kept for the next run
    reference = reference_rows(MlflowClient().get_model_version(HEALTH, "2").run_id)
    assert reference["unit"].nunique() == 6 + result["retrain"]["units_added"]
    assert result["retrain"]["units_before"] == 6 and result["retrain"]["units_added"] >= 1
    assert history(HEALTH)[-1]["kind"] == "retraining" and history(HEALTH)[-1]["to"] == "2"


def test_a_health_index_log_without_a_failure_is_a_named_error(home):
    from shopfloor.registry import load_version
    from shopfloor.retraining.workflow import write_log_rows

    register_health(home, run_to_failure(4, seed=1), method="ridge")
    new = run_to_failure(3, seed=2)
    log_health_answers(load_version(HEALTH, 1), new, running=(1, 2, 3))
    with pytest.raises(DataError, match="no unit of hi-line has its failure on record"):
        write_log_rows(HEALTH, "label")


def test_a_beta_vae_detector_continues_from_its_weights_on_new_healthy_cuts(home, tmp_path):
    import torch

    from shopfloor.registry import load_version

    register_detector(home, milling_subcuts(4, seed=1))
    log_detector_answers(load_version(DETECTOR, 1), milling_subcuts(6, seed=2))
    result, holdout, adapt = retrain(home, DETECTOR, tmp_path, fine_tune_epochs=2)
    assert not set(adapt["cut"]) & set(holdout["cut"]) and set(holdout["label"]) == {0, 1}
    assert result["kind"] == "anomaly-detection" and result["metric"] == "ap"
    assert_scored_on_the_same_rows("anomaly-detection", DETECTOR, result, holdout)
    champion, challenger = load_version(DETECTOR, 1).detector, joblib.load(tmp_path / "challenger.joblib").detector
    before, after = champion.members_[0].model.state_dict(), challenger.members_[0].model.state_dict()
    assert before.keys() == after.keys()  # the same network, trained further
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_a_simple_detector_is_refitted_and_too_few_failed_cuts_are_named(home, tmp_path):
    from shopfloor.registry import load_version

    register_detector(home, milling_subcuts(4, seed=1), kind="mahalanobis")
    sub = milling_subcuts(6, seed=2)
    log_detector_answers(load_version(DETECTOR, 1), sub)
    result, holdout, _ = retrain(home, DETECTOR, tmp_path)
    assert result["retrain"]["method"].startswith("refit of the mahalanobis detector, threshold set on")
    assert_scored_on_the_same_rows("anomaly-detection", DETECTOR, result, holdout)

    from shopfloor.anomaly_detection.retrain import DetectorRetrainer

    one_failed = holdout.assign(label=(holdout["cut"] == holdout.loc[holdout["label"] == 1, "cut"].iloc[0]).astype(int))
    with pytest.raises(DataError, match="two or more are needed") as caught:
        DetectorRetrainer().split(one_failed, load_version(DETECTOR, 1), 0.4, seed=0)
    assert caught.value.field == "label"
    with pytest.raises(DataError) as caught:
        DetectorRetrainer().read(
            str(_write(tmp_path, holdout.assign(subcut=[[[1.0]]] * len(holdout)))), load_version(DETECTOR, 1)
        )
    assert caught.value.field == "subcut"


def _write(tmp: Path, table: pd.DataFrame) -> Path:
    path = tmp / "rows.parquet"
    table.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("keyed", [True, False])
def test_logged_wear_sequences_become_one_curve_per_tool(home, keyed):
    from shopfloor.monitoring.training_rows import wear_curves
    from shopfloor.prognosis.wear_model import wear_table
    from shopfloor.registry import load_version

    register_wear(home)
    tools = wear_table(cases=3, seed=3)
    log_wear_answers(load_version(WEAR, 1), tools, keyed=keyed)
    curves = wear_curves(WEAR)
    assert curves.groupby("case").size().sort_values().tolist() == tools.groupby("case").size().sort_values().tolist()
    got = sorted(tuple(g.sort_values("cut")["VB"]) for _, g in curves.groupby("case"))
    assert got == sorted(tuple(g.sort_values("cut")["VB"]) for _, g in tools.groupby("case"))


def test_a_wear_prognosis_continues_on_curves_from_a_prior_refitted_to_the_new_ones(home, tmp_path):
    import torch

    from shopfloor.prognosis.wear_model import wear_table
    from shopfloor.registry import load_version

    register_wear(home)
    log_wear_answers(load_version(WEAR, 1), wear_table(cases=8, seed=3))
    result, holdout, adapt = retrain(home, WEAR, tmp_path, fine_tune_epochs=2, simulations=500)
    assert not set(adapt["case"]) & set(holdout["case"]) and result["metric"] == "neg_rmse"
    assert_scored_on_the_same_rows("prognosis", WEAR, result, holdout)
    before = load_version(WEAR, 1).posterior.state_dict()
    after = joblib.load(tmp_path / "challenger.joblib").posterior.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_a_metric_of_another_kind_and_no_new_rows_are_named(home, capsys):
    from shopfloor.kinds import retrainer_for
    from shopfloor_cli.main import main

    with pytest.raises(DataError, match="compared by one of") as caught:
        retrainer_for("prognosis").metric("f2")
    assert caught.value.field == "metric"
    register_wear(home)
    assert main(["run", "retraining", "--model-name", WEAR]) == 2
    assert "is a prognosis model: give its new rows with --data" in capsys.readouterr().err
