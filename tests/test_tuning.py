import numpy as np
import optuna
import pandas as pd
import pytest

from shopfloor.synth.tuning import factory_for, space_for, tune
from shopfloor.synth.wgan import WGANSynthesizer


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": 2 * a + rng.normal(0, 0.1, n)})


def test_study_in_sqlite_is_resumed_and_returns_a_fitted_synthesizer(tmp_path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    kw = dict(space=space_for("wgan", max_epochs=8), factory=factory_for("wgan", 0), timeout=None, storage=storage,
              study_name="s", progress=False)
    first = tune(_rows(40, 0), _rows(20, 1), n_trials=2, **kw)
    assert first.n_trials == 2 and isinstance(first.synthesizer, WGANSynthesizer)
    assert first.synthesizer.sample(5).shape == (5, 2)
    assert 0.0 <= first.best_loss <= 1.0
    again = tune(_rows(40, 0), _rows(20, 1), n_trials=1, **kw)
    assert again.n_trials == 3  # resumed, not restarted
    study = optuna.load_study(study_name="s", storage=storage)
    assert 10 <= study.trials[0].params["noise_dim"] <= 500
    assert 1 <= study.trials[0].params["hidden_layers"] <= 5
    assert 32 <= study.trials[0].params["hidden_units"] <= 512


def test_failing_trials_are_pruned_and_reported(tmp_path):
    def broken(params):
        raise ValueError("boom")

    with pytest.raises(RuntimeError, match="no trial completed"):
        tune(_rows(10, 0), _rows(5, 1), space=space_for("wgan", 4), factory=broken, n_trials=2, timeout=None,
             storage=f"sqlite:///{tmp_path / 'o.db'}", study_name="b", progress=False)
    study = optuna.load_study(study_name="b", storage=f"sqlite:///{tmp_path / 'o.db'}")
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    assert study.trials[0].user_attrs["failure"] == "boom"


@pytest.mark.parametrize("name", ["wgan", "ctgan", "flow"])
def test_every_synthesizer_reports_to_the_pruner(tmp_path, name):
    """Fidelity is reported from the first quarter of the epochs on (CTGAN included, through its epoch loop),
    so the median pruner can stop any synthesizer's weak trials."""
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    fixed = {"wgan": {"hidden_units": 32}, "ctgan": {"batch_size": 50}, "flow": {"hidden_units": 16}}[name]

    def space(trial):
        return {**space_for(name, max_epochs=8)(trial), **fixed, "epochs": 8}

    result = tune(_rows(60, 0), _rows(20, 1), space=space, factory=factory_for(name, 0), n_trials=4, timeout=None,
                  storage=storage, study_name=name, progress=False)
    study = optuna.load_study(study_name=name, storage=storage)
    reported = [sorted(t.intermediate_values) for t in study.trials]
    assert all(steps[:1] == [1] for steps in reported), reported  # every trial reported from the first quarter on
    assert result.n_trials == 4
