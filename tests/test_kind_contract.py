"""The whole contract of a kind of model, the same test for every kind in the catalog: register a champion,
serve one request through the model server's answer path, log it, feed its outcome back, read live quality,
retrain from the log, compare champion and challenger on the same held-out rows, and move the alias (or not)
by the comparison. A new kind adds its case here and gets the test."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import kind_fixtures as kf
from helpers.retrain_fixtures import MODEL_NAME, register_champion

from shopfloor.errors import DataError
from shopfloor.kinds import KINDS, model_class
from shopfloor.monitoring.live_quality import live_quality
from shopfloor.monitoring.outcomes import record_outcomes
from shopfloor.registry import champion_version, load_version, use_tracking
from shopfloor.registry.copy import copy_version
from shopfloor.registry.history import history


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    register: Callable[[Path], Any]
    request: Callable[[Any], tuple[dict, list[dict]]]  # the champion -> a v1 body and each row's outcome
    log_more: Callable[[Any], int]  # the champion -> answers logged with outcomes, enough to retrain on
    settings: dict


def _classifier_request(model: Any) -> tuple[dict, list[dict]]:
    from shopfloor.data.simulate import simulate_gearbox

    rows = simulate_gearbox(rows=3, seed=11)
    body = {"instances": rows.drop(columns=["faulty"]).to_dict(orient="records")}
    return body, [{"row": i, "label": int(y)} for i, y in enumerate(rows["faulty"])]


def _health_request(model: Any) -> tuple[dict, list[dict]]:
    unit = kf.run_to_failure(1, seed=12)
    body = {"instances": unit[model.inputs.names].to_dict(orient="records")}
    return body, [{"row": i, "label": len(unit) - 1 - i} for i in range(len(unit))]


def _detector_request(model: Any) -> tuple[dict, list[dict]]:
    sub = kf.milling_subcuts(2, seed=13)
    return {"instances": sub.X[:4].tolist()}, [{"row": i, "label": 0} for i in range(4)]


def _wear_request(model: Any) -> tuple[dict, list[dict]]:
    return {"instances": [[0.0, 0.04, 0.07, 0.09], [0.0, 0.03, 0.05]]}, [
        {"row": 0, "label": 0.11},
        {"row": 1, "label": 0.07},
    ]


def _surface_request(model: Any) -> tuple[dict, list[dict]]:
    import base64

    from shopfloor.data.images import encode_png

    data = kf.surface_images(0.2, seed=14)
    body = {"instances": [{"image": {"b64": base64.b64encode(encode_png(i)).decode()}} for i in data.images[:3]]}
    return body, [{"row": i, "label": int(y)} for i, y in enumerate(data.defect[:3])]


def _wear_log(model: Any) -> int:
    from shopfloor.prognosis.wear_model import wear_table

    return kf.log_wear_answers(model, wear_table(cases=6, seed=3))


CASES = [
    Case(
        "fault-detection",
        MODEL_NAME,
        lambda home: register_champion(home, "logreg"),
        _classifier_request,
        lambda model: kf.log_classifier_answers(model, MODEL_NAME),
        {},
    ),
    Case(
        "health-index",
        kf.HEALTH,
        lambda home: kf.register_health(home, kf.run_to_failure(6, seed=1), "ridge"),
        _health_request,
        lambda model: kf.log_health_answers(model, kf.run_to_failure(7, seed=2)),
        {},
    ),
    Case(
        "anomaly-detection",
        kf.DETECTOR,
        lambda home: kf.register_detector(home, kf.milling_subcuts(4, seed=1), kind="mahalanobis"),
        _detector_request,
        lambda model: kf.log_detector_answers(model, kf.milling_subcuts(6, seed=2)),
        {},
    ),
    Case("prognosis", kf.WEAR, kf.register_wear, _wear_request, _wear_log, {"fine_tune_epochs": 2}),
    Case(
        "surface-inspection",
        kf.SURFACE,
        kf.register_surface,
        _surface_request,
        kf.log_surface_answers,
        {"fine_tune_epochs": 1},
    ),
]


def test_every_kind_in_the_catalog_has_a_contract_case():
    assert [c.kind for c in CASES] == list(KINDS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.kind)
def test_a_kind_keeps_the_whole_contract(case, home, tmp_path):
    from serving.fast import tensors_of
    from serving.model import RegistryModel

    case.register(home)
    served = RegistryModel(case.name, tracking_uri=kf.uri(home), poll_seconds=0, quality_seconds=0)
    assert served.load() and served.current.version == "1"
    champion = served.current.model
    assert type(champion) is model_class(case.kind) and champion.KIND == case.kind

    # one request, answered with every declared output, and logged under its request id
    body, outcomes = case.request(champion)
    _, answer = served.answer(body, v2=False, request_id="contract-1")
    assert len(answer["predictions"]) == len(body["instances"]) and answer["model_version"] == "1"
    assert {o.name for o in champion.OUTPUTS} == set(answer["predictions"][0])

    # the same instances as the schema's v2 request get the same answers
    tensors = tensors_of({"inputs": champion.inputs.v2_request(body["instances"])})
    _, v2_answer = served.answer(tensors, v2=True, request_id="contract-2")
    for output in v2_answer["outputs"]:
        v1_values = [p[output["name"]] for p in answer["predictions"]]
        v2_values = np.asarray(output["data"], dtype=float).ravel()
        assert np.allclose(v2_values, np.ravel(v1_values), rtol=1e-5, equal_nan=True)
    served.prediction_log.close()  # flushes the server's log to disk, as a shutdown does

    # moved to another registry (a local champion to the cluster's MLflow), it answers the same there
    target = f"sqlite:///{tmp_path / 'cluster.db'}"
    copied = copy_version(case.name, target)
    assert (copied.version, copied.alias) == (1, "champion")
    there = RegistryModel(case.name, tracking_uri=target, poll_seconds=0, prediction_log=False)
    assert there.load()
    _, answered_there = there.answer(body, v2=False, request_id="contract-3")
    assert json.dumps(answered_there["predictions"]) == json.dumps(answer["predictions"])

    # requests that arrive together get the answers each gets alone (scored in one call where the kind stacks rows)
    some = body["instances"][: max(1, getattr(champion, "min_rows", 1))]  # fewer rows than the first request
    first = tensors_of({"inputs": champion.inputs.v2_request(some)})
    _, first_alone = there.answer(first, v2=True, request_id="alone")
    together = there.answer_many(
        [(body, False, "together-1"), ({"instances": "no rows"}, False, "together-2"), (first, True, "together-3")]
    )
    assert isinstance(together[1], DataError) and str(together[1]).startswith("instances")
    assert together[0][1]["request_id"] == "together-1" and together[2][1]["id"] == "together-3"
    for name in answer["predictions"][0]:
        alone = np.ravel([p[name] for p in answer["predictions"]]).astype(float)
        got = np.ravel([p[name] for p in together[0][1]["predictions"]]).astype(float)
        assert np.allclose(got, alone, rtol=1e-12, equal_nan=True)
    for output, alone in zip(together[2][1]["outputs"], first_alone["outputs"], strict=True):
        assert np.allclose(np.ravel(output["data"]), np.ravel(alone["data"]), rtol=1e-12, equal_nan=True)
    use_tracking(kf.uri(home))

    # its outcomes fed back by request id and row, then enough answered rows to retrain on
    labels = champion.details().get("labels")
    fed = [{"request_id": "contract-1", **o} for o in outcomes]
    assert record_outcomes(case.name, fed, **({"labels": labels} if labels else {})).stored == len(fed)
    assert case.log_more(load_version(case.name, 1)) > 0

    # live quality: the kind's own metrics on the served answers with their outcomes
    quality = live_quality(case.name, kind=case.kind)
    assert [q.version for q in quality] == ["1"] and quality[0].rows >= len(fed)
    assert quality[0].metrics and all(np.isfinite(v) for v in quality[0].metrics.values())

    # retrain from the log, compare on the same held-out rows, move the alias by the comparison
    result, holdout, adapt = kf.retrain(home, case.name, tmp_path, **case.settings)
    assert result["kind"] == case.kind and result["champion_version"] == 1 and result["version"] == 2
    assert len(holdout) and len(adapt)
    assert result["promoted"] == (result["challenger"] >= result["champion"])
    assert str(champion_version(case.name).version) == ("2" if result["promoted"] else "1")
    assert history(case.name)[-1]["kind"] == "retraining" or not result["promoted"]
