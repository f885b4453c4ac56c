import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from shopfloor.contract import Column, TabularSchema
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.registry import champion_contract, champion_score, load_version, register_model, use_tracking


@pytest.fixture
def model_and_rows():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(60, 3)), columns=["f1", "f2", "f3"])
    y = (x["f1"] > 0).astype(int)
    pre = ColumnTransformer([("numeric", StandardScaler(), ["f1", "f2", "f3"])])
    estimator = Pipeline([("preprocess", pre), ("classifier", LogisticRegression())]).fit(x, y)
    return FaultClassifier(estimator, TabularSchema(tuple(Column(c) for c in x.columns)), threshold=0.4), x


def _register(model, rows, f2, **kw):
    return register_model(
        model,
        rows.head(5),
        model_name="m",
        experiment="e",
        metrics={"test_f2": f2},
        params={"p": 1},
        score_metric="test_f2",
        **kw,
    )


def test_champion_moves_only_when_not_worse(home, model_and_rows):
    use_tracking()
    model, rows = model_and_rows
    first = _register(model, rows, 0.70)
    assert (first.version, first.alias, first.previous_champion_score) == (1, "champion", None)
    worse = _register(model, rows, 0.60)
    assert (worse.version, worse.alias) == (2, "challenger")
    tie = _register(model, rows, 0.70)
    assert (tie.version, tie.alias) == (3, "champion")
    client = MlflowClient()
    assert int(client.get_model_version_by_alias("m", "champion").version) == 3
    assert int(client.get_model_version_by_alias("m", "challenger").version) == 2
    assert champion_score("m", "test_f2") == pytest.approx(0.70)
    assert client.get_model_version("m", "3").run_id == tie.run_id
    assert str(home) in MlflowClient().get_run(tie.run_id).info.artifact_uri  # artifacts in the data dir


def test_the_registered_model_is_the_contract_and_loads_back(home, model_and_rows):
    use_tracking()
    model, rows = model_and_rows
    _register(model, rows, 0.5)
    contract = champion_contract("m")
    assert (contract.kind, contract.inputs, contract.details["threshold"]) == ("fault-detection", model.inputs, 0.4)
    loaded = load_version("m", 1)
    assert isinstance(loaded, FaultClassifier) and loaded.threshold == 0.4
    pyfunc = mlflow.pyfunc.load_model("models:/m@champion")
    assert pyfunc.predict(rows).equals(model.predict(None, rows))


def test_a_failure_mid_registration_leaves_no_version(home, model_and_rows, tmp_path):
    from shopfloor.registry import log_contract_model

    use_tracking()
    model, rows = model_and_rows
    _register(model, rows, 0.9)

    def log_then_fail(model, example, model_name):  # the model version exists when the failure comes
        log_contract_model(model, example, model_name)
        raise RuntimeError("boom")

    assert len(MlflowClient().search_model_versions("name='m'")) == 1
    with pytest.raises(RuntimeError, match="boom"):
        _register(model, rows, 0.95, log_model=log_then_fail)
    client = MlflowClient()
    assert [int(v.version) for v in client.search_model_versions("name='m'")] == [1]
    assert int(client.get_model_version_by_alias("m", "champion").version) == 1
    runs = client.search_runs([client.get_experiment_by_name("e").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FAILED", "FINISHED"]


def test_every_registration_writes_a_report_and_a_model_card(home, model_and_rows, tmp_path):
    """Without a pipeline's own sections, the report still holds the run's tables, plots, figures and decision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_tracking()
    model, rows = model_and_rows
    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    figure.savefig(tmp_path / "curve.png")
    table = pd.DataFrame({"method": ["a", "b"], "score": [0.5, 0.7]})
    first = _register(
        model, rows, 0.7, tables={"comparison.json": table}, artifacts={"curve.png": tmp_path / "curve.png"}
    )
    second = _register(model, rows, 0.6, tags={"shopfloor.chosen": "b"}, tables={"comparison.json": table})
    page = open(first.report_uri.removeprefix("file://")).read()
    assert "<h2>comparison</h2>" in page and "data:image/png;base64," in page
    assert "version 1 of m is @champion" in page and "<td>test_f2</td><td>0.7</td>" in page
    assert '<tr class="chosen"><td>b</td>' in open(second.report_uri.removeprefix("file://")).read()
    card = MlflowClient().get_model_version("m", "2").description
    assert card.startswith("**fault-detection** model. Predicts: class (1 when the unit is predicted faulty)")
    assert "Measured on held-out rows: test_f2 0.6." in card and "version 2 of m is @challenger" in card
