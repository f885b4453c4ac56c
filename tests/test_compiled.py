"""The gradient-boosting champion compiled into numpy scores what the registered pipeline scores, on rows with missing
values and categories it never saw, and is refused where it could not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopfloor.data import ingest as ing
from shopfloor.fault_detection.compiled import column_encoder, tree_scorer
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.fault_detection.train import fit_classifier, full_model


def _table(n: int = 900, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "torque": rng.normal(40, 10, n),
            "speed": rng.integers(1000, 3000, n),
            "type": rng.choice(["L", "M", "H"], n),
            "coolant": rng.choice(["a", "b"], n),
        }
    )
    risk = (frame["torque"] - 40) / 10 + (frame["type"] == "H") * 1.5 + rng.normal(0, 0.5, n)
    frame["faulty"] = (risk > 1.6).astype(int)
    frame.loc[rng.random(n) < 0.05, "torque"] = np.nan
    return frame


@pytest.fixture(scope="module")
def fitted():
    data = ing.prepare(_table(), "faulty", categorical=["type", "coolant"])
    splits = ing.split(data, seed=0)
    pre = ing.fit_preprocessor(splits.train, data.categorical)
    estimator = full_model(pre, fit_classifier(ing.transform(pre, splits.train), "hgb", seed=0))
    return FaultClassifier(estimator, ing.schema_of(pre, splits.train)), splits


def _hostile(rows: pd.DataFrame) -> pd.DataFrame:
    """The test rows with missing values and a category nobody has seen."""
    rows = rows.drop(columns=[ing.LABEL]).copy()
    rows.loc[rows.index[::5], "torque"] = np.nan
    rows.loc[rows.index[::7], "type"] = "XL"
    rows.loc[rows.index[::11], "coolant"] = None
    return rows


def test_the_compiled_forest_equals_the_pipeline(fitted):
    model, splits = fitted
    assert model.scorer().__qualname__.startswith("tree_scorer")
    rows = model.inputs.from_input(_hostile(splits.test))
    expected = model.estimator.predict_proba(rows.frame())[:, 1]
    assert np.allclose(model.scorer()(rows), expected, rtol=0, atol=1e-12)
    predicted = model.predict_rows(rows)
    assert np.array_equal(predicted["class"], (expected >= model.threshold).astype(int))


def test_the_compiled_forest_is_bit_equal_and_the_numpy_walk_agrees(fitted):
    from shopfloor.fault_detection import compiled

    model, splits = fitted
    classifier = model.estimator.steps[-1][1]
    x = np.asarray(model.estimator.steps[0][1].transform(_hostile(splits.test)), dtype=float)
    expected = classifier._raw_predict(x).ravel()
    forest = compiled.Forest(classifier)
    assert np.array_equal(forest.raw(x), expected)  # same comparisons, leaves summed in the same order
    assert all(np.array_equal(forest.raw(x[i : i + 1]), expected[i : i + 1]) for i in range(len(x)))
    assert np.array_equal(forest.raw(np.asfortranarray(x)), expected)  # any memory order
    assert np.allclose(forest.walk(x), expected, rtol=0, atol=1e-12)
    nan = np.full((1, x.shape[1]), np.nan)  # every value missing: each node sends it its own way
    assert np.array_equal(forest.raw(nan), classifier._raw_predict(nan).ravel())


def test_the_column_encoder_equals_the_column_transformer(fitted):
    model, splits = fitted
    rows = model.inputs.from_input(_hostile(splits.test))
    pre = model.estimator.steps[0][1]
    encoded = column_encoder(pre, model.inputs)(rows)
    assert np.allclose(encoded, np.asarray(pre.transform(rows.frame()), dtype=float), rtol=0, atol=1e-12)


def test_one_row_and_a_batch_alike(fitted):
    model, splits = fitted
    rows = model.inputs.from_input(splits.test.drop(columns=[ing.LABEL]))
    whole = model.scorer()(rows)
    one = model.inputs.from_input(splits.test.drop(columns=[ing.LABEL]).head(1))
    assert model.scorer()(one)[0] == pytest.approx(whole[0], abs=1e-15)


def test_what_it_cannot_compile_is_left_to_the_pipeline(fitted):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline

    model, splits = fitted
    pre = model.estimator.steps[0][1]
    x, y = ing.xy(ing.transform(pre, splits.train))
    forest = Pipeline([("preprocess", pre), ("classifier", RandomForestClassifier(n_estimators=3).fit(x, y))])
    assert tree_scorer(forest, model.inputs) is None
    kind = np.arange(len(y)) % 3
    native = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(
        np.column_stack([kind, x.to_numpy()[:, 1]]), (kind == 1).astype(int)
    )  # split on the category itself
    assert tree_scorer(Pipeline([("preprocess", pre), ("classifier", native)]), model.inputs) is None


def test_a_version_whose_compiled_path_disagrees_is_not_registered(home, fitted):
    import copy

    from mlflow import MlflowClient

    from shopfloor.registry import register_model, use_tracking

    use_tracking()
    model, splits = fitted
    rows = splits.test.drop(columns=[ing.LABEL])
    broken = copy.copy(model)
    broken._scorer = lambda batch: model.scorer()(batch) + 1e-6  # a compiled path off by a millionth
    with pytest.raises(ValueError, match="compiled scoring path disagrees with the fitted pipeline on 5 of 5 rows"):
        register_model(
            broken,
            rows.head(5),
            model_name="m",
            experiment="e",
            metrics={"test_f2": 0.5},
            params={},
            score_metric="test_f2",
        )
    assert MlflowClient().search_registered_models() == []
    registered = register_model(
        model, rows.head(5), model_name="m", experiment="e", metrics={"test_f2": 0.5}, params={}, score_metric="test_f2"
    )
    figures = MlflowClient().get_run(registered.run_id).data.metrics
    assert 0 < figures["latency_one_p50_ms"] <= figures["latency_one_p99_ms"] and figures["latency_batch_items"] == 100


def test_a_regressors_trees_score_its_own_predictions_to_the_last_bit_and_follow_a_refit():
    """The health index's remaining-life regressors are served through the same flat trees: every row, a single
    row and missing values give exactly ``predict``'s floats; a refitted model gets its own trees."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from shopfloor.forest import regressor_predict

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 4))
    y = x[:, 0] * 3 + np.sin(x[:, 1]) + rng.normal(scale=0.1, size=400)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x, y)
    probe = np.vstack([rng.normal(size=(50, 4)), [[np.nan, 0.0, 1.0, np.nan]]])
    cache: dict = {}
    assert np.array_equal(regressor_predict(model, probe, cache), model.predict(probe))
    assert np.array_equal(regressor_predict(model, probe[:1], cache), model.predict(probe[:1]))
    refit = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x, -y)
    assert np.array_equal(regressor_predict(refit, probe, cache), refit.predict(probe))  # not the old trees
    poisson = HistGradientBoostingRegressor(loss="poisson", max_iter=20).fit(x, np.abs(y))
    assert np.array_equal(regressor_predict(poisson, probe, {}), poisson.predict(probe))  # its own predict
