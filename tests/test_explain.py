"""Explanations of a fault classifier's answers: SHAP values per raw column (one-hot categories folded back into
their column) that sum to the model's own log-odds minus the reference's, for both families the pipeline
registers; KServe's explain route answers KServe's own REST client, bad input gets the predict route's named 400,
and a kind without explanations says so."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from helpers.serving_fixtures import MODEL, gearbox_with_variant, register_gearbox_model

from loadtest.run import local_server
from shopfloor.contract import Rows
from shopfloor.data import ingest as ing
from shopfloor.errors import DataError
from shopfloor.fault_detection import train as tr
from shopfloor.fault_detection.pyfunc import FaultClassifier


@pytest.fixture(scope="module")
def fitted():
    """A logistic regression and a gradient-boosting classifier on gearbox rows with a string column."""
    data = ing.prepare(gearbox_with_variant(1200, 0), "faulty", categorical=["variant"])
    splits = ing.split(data)
    pre = ing.fit_preprocessor(splits.train, data.categorical)
    schema = ing.schema_of(pre, splits.train)
    models = {}
    for kind in ("logreg", "hgb"):
        classifier = tr.fit_classifier(ing.transform(pre, splits.train), kind=kind)
        models[kind] = FaultClassifier(tr.full_model(pre, classifier), schema)
    return models, splits.test.drop(columns=[ing.LABEL]).head(200).reset_index(drop=True)


@pytest.mark.parametrize("kind", ["logreg", "hgb"])
def test_explanations_are_additive_in_the_columns_the_client_sent(fitted, kind):
    models, frame = fitted
    model = models[kind]
    explained = model.explain_rows(model.inputs.from_input(frame))
    assert explained["units"] == "log-odds of the fault class" and len(explained["rows"]) == len(frame)
    row = explained["rows"][0]
    assert list(row["contributions"]) == list(frame.columns)  # 66 numbers and "variant", not its one-hot columns
    total = np.array([sum(r["contributions"].values()) for r in explained["rows"]]) + explained["expected_log_odds"]
    log_odds = np.array([r["log_odds"] for r in explained["rows"]])
    p = model.predict(None, frame)["fault_probability"].to_numpy()
    assert np.allclose(1 / (1 + np.exp(-log_odds)), p, rtol=1e-9)  # log-odds are the served answer's
    assert np.abs(total - log_odds).max() < 1e-9
    assert [r["class"] for r in explained["rows"]] == model.predict(None, frame)["class"].tolist()


def test_a_resnet_is_explained_by_permutations_that_sum_to_its_log_odds(fitted):
    """No exact explainer covers the ResNet: its values are permutation estimates, exact in their sum."""
    from shopfloor.fault_detection.estimators import ResNetClassifier

    models, frame = fitted
    pre = models["logreg"].estimator.steps[0][1]
    train = models["logreg"]
    x = np.asarray(pre.transform(frame), dtype=np.float64)
    net = ResNetClassifier(max_epochs=5, seed=0).fit(x, (frame.iloc[:, 0] > frame.iloc[:, 0].median()).astype(int))
    model = FaultClassifier(tr.full_model(pre, net), train.inputs)
    explained = model.explain_rows(model.inputs.from_input(frame.head(3)))
    assert "estimated by permutations" in explained["reference"]
    for r in explained["rows"]:
        assert list(r["contributions"]) == list(frame.columns)
        # the network computes in float32, so a row scored among its coalitions can differ in the 7th digit
        assert abs(sum(r["contributions"].values()) + explained["expected_log_odds"] - r["log_odds"]) < 1e-5
    p = model.predict(None, frame.head(3))["fault_probability"].to_numpy()
    assert np.allclose(1 / (1 + np.exp(-np.array([r["log_odds"] for r in explained["rows"]]))), p, rtol=1e-6)


def test_a_typical_part_is_explained_by_nothing_and_a_changed_column_by_itself(fitted):
    model, frame = fitted[0]["logreg"], fitted[1]
    typical = frame.head(1).copy()
    typical.loc[:, :] = np.nan
    typical["variant"] = None  # every column filled by the model's own imputers: the reference part itself
    first = model.explain_rows(model.inputs.from_input(typical))["rows"][0]
    assert max(abs(v) for v in first["contributions"].values()) < 1e-12
    moved = typical.copy()
    moved["ws2_press_shim_stack_stroke_mm"] = frame["ws2_press_shim_stack_stroke_mm"].max()
    second = model.explain_rows(model.inputs.from_input(moved))["rows"][0]["contributions"]
    assert abs(second["ws2_press_shim_stack_stroke_mm"]) > 0.01
    assert max(abs(v) for k, v in second.items() if k != "ws2_press_shim_stack_stroke_mm") < 1e-12


def test_a_kind_without_explanations_is_a_named_error():
    from shopfloor.contract import ShopfloorModel

    class Plain(ShopfloorModel):
        KIND = "plain"

    with pytest.raises(DataError, match="a plain model does not explain its answers") as caught:
        Plain().explain_rows(Rows.__new__(Rows))
    assert caught.value.field == "explain"


def test_the_explain_route_answers_kserves_rest_client(tmp_path):
    from httpx import HTTPStatusError
    from kserve import InferenceRESTClient, RESTConfig

    home = tmp_path / "home"
    _, model, rows = register_gearbox_model(home, f2=0.5, variant=True)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    sent = rows.head(3)
    instances = [{k: (v if isinstance(v, str) else float(v)) for k, v in r.items()} for r in sent.to_dict("records")]
    expected = model.explain_rows(model.inputs.from_input(sent))

    async def ask(url: str, body: dict) -> dict:
        client = InferenceRESTClient(RESTConfig(protocol="v1", timeout=60))
        try:
            return await client.explain(url, MODEL, body)
        finally:
            await client.close()

    async def infer(url: str, explain: bool):
        from kserve import InferInput, InferRequest

        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=60))
        tensors = []  # one tensor per column, as a model with a string column takes them
        for column in sent.columns:
            text = sent[column].dtype == object
            tensor = InferInput(column, [len(sent)], "BYTES" if text else "FP64")
            values = sent[column].to_numpy(dtype=object if text else np.float64)
            tensor.set_data_from_numpy(values, binary_data=False)
            tensors.append(tensor)
        request = InferRequest(MODEL, tensors, parameters={"explain": True} if explain else None)
        try:
            return await client.infer(url, request, model_name=MODEL)
        finally:
            await client.close()

    with local_server(MODEL, extra=["--poll-seconds", "0"], env=env, log=home / "serve.log") as url:
        answer = asyncio.run(ask(url, {"instances": instances}))
        with pytest.raises(HTTPStatusError) as caught:
            asyncio.run(ask(url, {"instances": [{**instances[0], "ws1_press_pinion_peak_kN": "high"}]}))
        plain, explained = asyncio.run(infer(url, False)), asyncio.run(infer(url, True))
    assert [o.name for o in plain.outputs] == ["class", "fault_probability"]  # computed only when asked
    assert [o.name for o in explained.outputs] == ["class", "fault_probability", "explanation"]
    texts = [json.loads(t) for t in explained.outputs[2].as_numpy().tolist()]
    for text, want in zip(texts, expected["rows"], strict=True):
        assert text["contributions"] == pytest.approx(want["contributions"], abs=1e-9)
    assert texts[0]["units"] == "log-odds of the fault class"
    assert answer["model_version"] == "1" and len(answer["rows"]) == 3
    for got, want in zip(answer["rows"], expected["rows"], strict=True):
        assert got["class"] == want["class"]
        assert got["contributions"] == pytest.approx(want["contributions"], abs=1e-9)
    assert caught.value.response.status_code == 400
    assert "ws1_press_pinion_peak_kN" in caught.value.response.text


@pytest.mark.parametrize("method", ["ridge", "a2ds"])
def test_a_health_index_is_explained_by_its_sensors_shares_of_the_last_rows_index(method, tmp_path, monkeypatch):
    """Each sensor's Shapley share of the last row's index against the unit's own start, summing to the
    difference; over KServe's explain route in this process, through the registry, as the server serves it."""
    from helpers.kind_fixtures import HEALTH, register_health, run_to_failure

    from serving.model import RegistryModel

    table = run_to_failure(8, 0)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    register_health(home, table, method=method)
    served = RegistryModel(
        HEALTH, tracking_uri=f"sqlite:///{home / 'mlflow.db'}", poll_seconds=0, quality_seconds=0, prediction_log=False
    )
    assert served.load()
    unit = table[table["unit"] == table["unit"].iloc[0]]
    body = {"instances": [{k: float(v) for k, v in r.items()} for r in unit.to_dict("records")]}
    explained = served.explain(body)
    (row,) = explained["rows"]
    sensors = [c for c in table.columns if c not in ("unit", "time")]
    assert list(row["contributions"]) == sensors and explained["model_version"] == "1"
    assert sum(row["contributions"].values()) + row["baseline_health_index"] == pytest.approx(
        row["health_index"], abs=1e-9
    )
    _, answer = served.answer(body, v2=False)
    assert row["health_index"] == pytest.approx(answer["predictions"][-1]["health_index"], abs=1e-12)
    with pytest.raises(Exception, match="time must increase"):
        served.explain({"instances": body["instances"][::-1]})  # the predict route's named 400


@pytest.mark.parametrize("kind", ["mahalanobis", "beta_vae"])
def test_an_anomaly_score_is_explained_by_each_signals_share(kind, tmp_path, monkeypatch):
    """Each signal's Shapley share of a sub-cut's score against a typical healthy sub-cut, summing to the
    difference, through the registry as the server serves it; a version without a reference says so."""
    from helpers.kind_fixtures import DETECTOR, milling_subcuts, register_detector

    from serving.model import RegistryModel

    sub = milling_subcuts(4, 0)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))  # the registered model's artifacts go there
    model = register_detector(home, sub, kind=kind)
    served = RegistryModel(
        DETECTOR,
        tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
        poll_seconds=0,
        quality_seconds=0,
        prediction_log=False,
    )
    assert served.load()
    failed = sub.X[sub.meta["tool_class"].to_numpy() == 2][:2]
    explained = served.explain({"instances": failed.tolist()})
    assert len(explained["rows"]) == 2
    for row in explained["rows"]:
        assert list(row["contributions"]) == list(sub.signal_names)
        total = sum(row["contributions"].values()) + row["baseline_score"]
        assert total == pytest.approx(row["score"], rel=1e-5)  # the VAE scores in float32, a batch or one window
    typical = model.predict_rows(model.inputs.parse_v1({"instances": [model.reference.tolist()]}, 10))["score"][0]
    assert explained["rows"][0]["baseline_score"] == pytest.approx(float(typical), rel=1e-5)
    model.reference = None
    with pytest.raises(DataError, match="without a reference sub-cut"):
        model.explain_rows(model.inputs.parse_v1({"instances": failed.tolist()}, 10))
