"""Alias history and rollback: every kind of move recorded, rollback under the registry lock, bad input named."""

from __future__ import annotations

import threading

import pytest
from helpers.serving_fixtures import MODEL, register_gearbox_model
from mlflow import MlflowClient

from shopfloor.registry import use_tracking
from shopfloor.registry.history import history, promote_challenger, rollback
from shopfloor_cli.main import main


@pytest.fixture
def three_versions(home):
    """v1 champion; v2 better (promoted, retraining-tagged moves are covered by the retraining tests); v3
    worse (challenger)."""
    uri = f"sqlite:///{home / 'mlflow.db'}"
    for f2, seed in ((0.5, 0), (0.9, 1), (0.1, 2)):
        register_gearbox_model(home, f2=f2, seed=seed, tracking_uri=uri)
    use_tracking(uri)
    return uri


def test_every_move_is_recorded_and_a_rollback_goes_back_to_the_previous_champion(three_versions, capsys):
    moves = history(MODEL)
    assert [(m["alias"], m["from"], m["to"], m["kind"]) for m in moves] == [
        ("champion", None, "1", "promotion"),
        ("champion", "1", "2", "promotion"),
        ("challenger", None, "3", "challenger"),
    ]
    assert all(m["run_id"] and m["reason"] and m["time"] for m in moves)

    assert main(["rollback", "--model-name", MODEL, "--reason", "v2 misses cracked housings"]) == 0
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    last = history(MODEL)[-1]
    assert (last["from"], last["to"], last["kind"], last["reason"]) == (
        "2",
        "1",
        "rollback",
        "v2 misses cracked housings",
    )
    assert last["command"] == "shopfloor rollback" and not last["run_id"]

    assert main(["promote", "--model-name", MODEL]) == 0  # the challenger's trial ends: v3 takes over
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "3"
    assert "challenger" not in client.get_registered_model(MODEL).aliases
    assert main(["history", "--model-name", MODEL]) == 0
    printed = capsys.readouterr().out
    assert "rollback" in printed and "manual" in printed and "v2 misses cracked housings" in printed


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--to", "9"], "has no version 9"),
        (["--to", "2"], "version 2 already holds @champion"),
    ],
)
def test_bad_rollbacks_are_named_and_move_nothing(three_versions, capsys, args, named):
    before = history(MODEL)
    assert main(["rollback", "--model-name", MODEL, *args]) == 2
    assert named in capsys.readouterr().err
    assert history(MODEL) == before


def test_a_first_champion_has_nothing_to_roll_back_to(home, capsys):
    register_gearbox_model(home, f2=0.5, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    assert main(["rollback", "--model-name", MODEL]) == 2
    assert "no earlier champion" in capsys.readouterr().err
    assert main(["rollback", "--model-name", "no-such-model"]) == 2
    assert main(["promote", "--model-name", MODEL]) == 2  # no challenger
    assert "no @challenger" in capsys.readouterr().err


def test_two_rollbacks_at_once_both_recorded_none_lost(three_versions):
    """Under the registry lock the second rollback sees the first: v2 -> v1, then v1 -> v2, both on record."""
    errors = []

    def back() -> None:
        try:
            rollback(MODEL)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=back) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rollbacks = [m for m in history(MODEL) if m["kind"] == "rollback"]
    assert [(m["from"], m["to"]) for m in rollbacks] == [("2", "1"), ("1", "2")]
    assert len({m["seq"] for m in history(MODEL)}) == len(history(MODEL))


def test_promote_challenger_refuses_a_model_that_is_not_registered(home):
    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    with pytest.raises(Exception, match="not registered"):
        promote_challenger("nothing-here")
