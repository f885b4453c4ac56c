import numpy as np
import optuna
import pandas as pd
import pytest

from shopfloor.errors import DataError
from shopfloor.synth.tuning import Objective, factory_for, space_for, tune
from shopfloor.synth.wgan import WGANSynthesizer


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": 2 * a + rng.normal(0, 0.1, n)})


def _fidelity(seed=1):
    return Objective("fidelity", _rows(20, seed))


def test_study_in_sqlite_is_resumed_and_returns_a_fitted_synthesizer(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    kw = dict(
        space=space_for("wgan", max_steps=24),
        factory=factory_for("wgan", 0),
        timeout=None,
        storage=storage,
        study_name="s",
        progress=False,
    )
    first = tune(_rows(40, 0), objective=_fidelity(), n_trials=2, **kw)
    assert first.n_trials == 2 and isinstance(first.synthesizer, WGANSynthesizer)
    assert first.synthesizer.sample(5).shape == (5, 2)
    study = optuna.load_study(study_name="s", storage=storage)
    assert first.best_values["fidelity_loss"] == pytest.approx(study.best_value)
    again = tune(_rows(40, 0), objective=_fidelity(), n_trials=1, **kw)
    assert again.n_trials == 3  # resumed, not restarted
    study = optuna.load_study(study_name="s", storage=storage)
    assert 10 <= study.trials[0].params["noise_dim"] <= 500
    assert 1 <= study.trials[0].params["hidden_layers"] <= 5
    assert 32 <= study.trials[0].params["hidden_units"] <= 512
    assert 3 <= study.trials[0].params["steps"] <= 24


def test_failing_trials_are_pruned_and_reported(tmp_path):
    def broken(params):
        raise ValueError("boom")

    with pytest.raises(RuntimeError, match="no trial completed"):
        tune(
            _rows(10, 0),
            space=space_for("wgan", 16),
            factory=broken,
            objective=_fidelity(),
            n_trials=2,
            timeout=None,
            storage=f"sqlite:///{tmp_path / 'o.db'}",
            study_name="b",
            progress=False,
        )
    study = optuna.load_study(study_name="b", storage=f"sqlite:///{tmp_path / 'o.db'}")
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    assert study.trials[0].user_attrs["failure"] == "boom"


@pytest.mark.parametrize("name", ["wgan", "ctgan", "flow"])
def test_every_synthesizer_reports_to_the_pruner(tmp_path, name):
    """The objective is reported from the first quarter of the epochs on (CTGAN included, through its
    epoch loop), so the median pruner can stop any synthesizer's weak trials."""
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    fixed = {"wgan": {"hidden_units": 32}, "ctgan": {"batch_size": 50}, "flow": {"hidden_units": 16}}[name]

    def space(trial):
        return {**space_for(name, max_steps=40)(trial), **fixed, "steps": 16 if name == "ctgan" else 40}

    result = tune(
        _rows(60, 0),
        space=space,
        factory=factory_for(name, 0),
        objective=_fidelity(),
        n_trials=4,
        timeout=None,
        storage=storage,
        study_name=name,
        progress=False,
    )
    study = optuna.load_study(study_name=name, storage=storage)
    reported = [sorted(t.intermediate_values) for t in study.trials]
    assert all(steps[:1] == [1] for steps in reported), reported  # every trial reported from the first quarter on
    assert result.n_trials == 4


def test_utility_and_two_objective_studies(tmp_path):
    """Utility is maximized; "both" keeps the Pareto front of (fidelity loss, utility) and picks a trial
    on it. A utility that prefers more generator steps finds them."""
    storage = f"sqlite:///{tmp_path / 'o.db'}"

    def utility(synth) -> float:
        return synth.config.steps / 40.0

    space = space_for("wgan", max_steps=40)
    kw = dict(space=space, factory=factory_for("wgan", 0), timeout=None, storage=storage, progress=False)
    single = tune(_rows(40, 0), objective=Objective("utility", _rows(20, 1), utility), n_trials=6, study_name="u", **kw)
    study = optuna.load_study(study_name="u", storage=storage)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert single.best_values["utility"] == max(t.value for t in study.trials if t.value is not None)
    both = tune(_rows(40, 0), objective=Objective("both", _rows(20, 1), utility), n_trials=6, study_name="b", **kw)
    front = {(p["fidelity_loss"], p["utility"]) for p in both.pareto}
    assert front and (both.best_values["fidelity_loss"], both.best_values["utility"]) in front
    for loss, value in front:  # nothing on the front is beaten on both objectives by another front member
        assert not any(l2 <= loss and v2 >= value and (l2, v2) != (loss, value) for l2, v2 in front)


def test_objective_settings_are_checked():
    with pytest.raises(DataError, match="objective: must be one of"):
        Objective("speed", _rows(20, 1))
    with pytest.raises(ValueError, match="needs a utility"):
        Objective("utility", _rows(20, 1))
