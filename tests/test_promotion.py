"""Fault detection's promotion rule: the champion and the new model are scored on the same (new) test rows;
what each run once recorded on its own test split does not decide. A real SQLite MLflow store."""

import pytest
from helpers.serving_fixtures import register_in
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from shopfloor.data import ingest as ing
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.fault_detection.train import reference_classifier
from shopfloor.fault_detection.workflow import promotion
from shopfloor.registry import use_tracking

NAME = "press-line"


@pytest.fixture(scope="module")
def models():
    good, splits = reference_classifier(simulate_gearbox(rows=1200, seed=4), "faulty", class_weight="balanced")
    rows = splits.train.drop(columns=[ing.LABEL])
    never = FaultClassifier(
        Pipeline([("classifier", DummyClassifier(strategy="constant", constant=0).fit(rows, splits.train[ing.LABEL]))]),
        good.inputs,
    )  # never says "faulty": F2 0
    return good, never, splits


def _decide(home, champion, recorded_f2, new, test_rows, **kw):
    register_in(home, champion, test_rows.drop(columns=[ing.LABEL]).head(3), recorded_f2, name=NAME)
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    return promotion(new, test_rows, NAME, **kw)


def test_a_champion_better_on_the_new_rows_stays_though_it_recorded_less(home, models):
    good, never, splits = models
    decision = _decide(home, good, 0.05, never, splits.test)
    assert not decision.promote and decision.champion_score > 0.5 and decision.new_score == 0.0
    assert decision.rows == len(splits.test) and f"on the same {len(splits.test)} test rows" in decision.reason
    assert "kept the champion" in decision.reason


def test_a_new_model_better_on_the_new_rows_wins_though_the_champion_recorded_more(home, models):
    good, never, splits = models
    decision = _decide(home, never, 0.99, good, splits.test)
    assert decision.promote and decision.new_score > decision.champion_score == 0.0
    assert decision.reason.startswith("promoted")


def test_a_champion_that_cannot_read_the_new_columns_is_kept_unless_forced(home, models):
    good, _, splits = models
    register_in(home, good, splits.test.drop(columns=[ing.LABEL]).head(3), 0.5, name=NAME)
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    renamed = simulate_gearbox(rows=1200, seed=5).rename(columns={"ws1_press_pinion_peak_kN": "pinion_peak"})
    new, new_splits = reference_classifier(renamed, "faulty")
    kept = promotion(new, new_splits.test, NAME)
    assert not kept.promote and "takes other columns (e.g. 'ws1_press_pinion_peak_kN')" in kept.reason
    assert "--force-champion" in kept.reason and kept.champion_score is None
    forced = promotion(new, new_splits.test, NAME, force=True)
    assert forced.promote and "replaced because --force-champion was given" in forced.reason


def test_without_a_champion_the_first_model_is_promoted(home, models):
    good, _, splits = models
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    decision = promotion(good, splits.test, NAME)
    assert decision.promote and decision.reason == "no champion yet"


def test_equal_scores_promote_the_newcomer(home, models):
    good, _, splits = models
    decision = _decide(home, good, 0.5, FaultClassifier(good.estimator, good.inputs, good.threshold), splits.test)
    assert decision.promote and decision.new_score == decision.champion_score
