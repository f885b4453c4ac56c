"""A challenger on trial beside the champion, with a real server: shadow answers never returned and always
logged, canary share within its binomial bound, a challenger that fails to load costs no answer."""

from __future__ import annotations

import math

import pytest
from helpers.serving_fixtures import MODEL, call, metric_value, metrics_text, register_gearbox_model, rows_as_lists
from mlflow import MlflowClient
from test_faults import _break_artifact

from loadtest.run import local_server
from shopfloor.monitoring.store import read_predictions
from shopfloor_cli.main import main


@pytest.fixture(scope="module")
def champion_and_challenger(tmp_path_factory):
    """v1 the champion (test F2 0.9), v2 the challenger (0.1: registered beside it, not promoted)."""
    home = tmp_path_factory.mktemp("trial")
    _, _, rows = register_gearbox_model(home, f2=0.9, seed=0)
    second, _, _ = register_gearbox_model(home, f2=0.1, seed=5)
    assert second.alias == "challenger"
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    return home, env, rows_as_lists(rows)


def _logged(home, name):
    return read_predictions(MODEL, root=home / name)


def test_shadow_answers_are_never_returned_and_always_logged(champion_and_challenger):
    home, env, rows = champion_and_challenger
    env = {**env, "SHOPFLOOR_MONITORING": str(home / "shadow")}
    with local_server(
        MODEL, extra=["--challenger", "shadow", "--poll-seconds", "0", "--quality-seconds", "0"], env=env
    ) as url:
        answers = [call(f"{url}/v1/models/{MODEL}:predict", {"instances": [row]}) for row in rows[:40]]
        assert {a.headers["x-model-version"] for a in answers} == {"1"}
        assert {a.body["model_version"] for a in answers} == {"1"}
        text = metrics_text(url)
    logged = _logged(home, "shadow")
    answered, shadow = logged[logged.role == "answered"], logged[logged.role == "shadow"]
    assert len(answered) == len(shadow) == 40
    assert set(answered.version) == {"1"} and set(shadow.version) == {"2"}
    assert set(answered.request_id) == set(shadow.request_id) == {a.body["request_id"] for a in answers}
    assert metric_value(text, f'shopfloor_challenger_ready{{model="{MODEL}"}}') == 1
    agreement = metric_value(text, f'shopfloor_challenger_agreement{{challenger="2",champion="1",model="{MODEL}"}}')
    paired = answered.merge(shadow, on="request_id")
    assert agreement == pytest.approx((paired["output.class_x"] == paired["output.class_y"]).mean())
    assert metric_value(text, f'shopfloor_version_rows_total{{model="{MODEL}",role="shadow",version="2"}}') == 40


def test_canary_share_is_within_its_binomial_bound(champion_and_challenger):
    home, env, rows = champion_and_challenger
    env = {**env, "SHOPFLOOR_MONITORING": str(home / "canary")}
    n, share = 1000, 0.10
    with local_server(
        MODEL, extra=["--challenger", "canary:10", "--poll-seconds", "0", "--quality-seconds", "0"], env=env
    ) as url:
        answers = [call(f"{url}/v1/models/{MODEL}:predict", {"instances": [rows[i % len(rows)]]}) for i in range(n)]
    by_challenger = sum(a.headers["x-model-version"] == "2" for a in answers)
    assert all(a.headers["x-model-version"] == a.body["model_version"] for a in answers)
    assert abs(by_challenger - n * share) <= 4 * math.sqrt(n * share * (1 - share)), by_challenger
    logged = _logged(home, "canary")
    assert (logged.role == "canary").sum() == by_challenger and set(logged[logged.role == "canary"].version) == {"2"}


def test_a_challenger_that_fails_to_load_costs_no_answer(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _, _, rows = register_gearbox_model(home, f2=0.9, seed=0)
    broken, _, _ = register_gearbox_model(home, f2=0.1, seed=5)
    _break_artifact(MlflowClient(f"sqlite:///{home / 'mlflow.db'}"), broken.version)
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    with local_server(
        MODEL, extra=["--challenger", "canary:50", "--poll-seconds", "0", "--quality-seconds", "0"], env=env
    ) as url:
        answers = [call(f"{url}/v1/models/{MODEL}:predict", {"instances": [row]}) for row in rows_as_lists(rows)[:20]]
        text = metrics_text(url)
    assert all(a.status == 200 and a.headers["x-model-version"] == "1" for a in answers)
    assert metric_value(text, f'shopfloor_challenger_ready{{model="{MODEL}"}}') == 0
    assert any(line.startswith("shopfloor_challenger_load_failures_total{") for line in text.splitlines())


@pytest.mark.parametrize("share", ["canary:150", "canary:-1", "canary:ten", "shade"])
def test_a_bad_trial_is_named_before_anything_loads(share, capsys):
    assert main(["serve", "--model-name", MODEL, "--challenger", share]) == 2
    assert "challenger" in capsys.readouterr().err
