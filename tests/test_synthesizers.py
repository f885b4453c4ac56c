"""The three synthesizers behind one interface: shapes, dtypes, names, seeds, save/load, settings, history."""

import numpy as np
import pandas as pd
import pytest

from shopfloor.synth import CTGANSynthesizer, FlowSynthesizer, WGANSynthesizer
from shopfloor.synth.ctgan import SynthesisError

FAST = {
    WGANSynthesizer: {"steps": 90, "hidden_units": 32},
    CTGANSynthesizer: {"steps": 6, "batch_size": 50, "generator_dim": (32,), "discriminator_dim": (32,)},
    FlowSynthesizer: {"steps": 30, "n_blocks": 4, "hidden_units": 32},
}


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    a = rng.normal(2.0, 0.5, 100)
    return pd.DataFrame({"force kN": a, "torque": 3 * a + rng.normal(0, 0.2, 100), "count": rng.integers(0, 5, 100)})


@pytest.fixture(scope="module", params=list(FAST), ids=lambda c: c.__name__)
def fitted(request, table):
    cls = request.param
    return cls(seed=4, progress=False, **FAST[cls]).fit(table)


def test_sample_shapes_dtypes_and_names(fitted, table):
    out = fitted.sample(300)
    assert out.shape == (300, 3)
    assert list(out.columns) == list(table.columns)
    assert out.dtypes.equals(table.dtypes)
    assert np.isfinite(out.to_numpy(float)).all()


def test_deterministic_under_seed(fitted, table):
    pd.testing.assert_frame_equal(fitted.sample(40, seed=9), fitted.sample(40, seed=9))
    assert not fitted.sample(40, seed=1).equals(fitted.sample(40, seed=2))
    again = type(fitted)(seed=4, progress=False, **FAST[type(fitted)]).fit(table)
    pd.testing.assert_frame_equal(fitted.sample(40), again.sample(40))


def test_save_load_round_trip(fitted, tmp_path):
    path = tmp_path / "synth.pt"
    fitted.save(path)
    loaded = type(fitted).load(path)
    pd.testing.assert_frame_equal(fitted.sample(64, seed=3), loaded.sample(64, seed=3))


def test_ctgan_conditional_failure_is_a_clear_error(table):
    # a condition value CTGAN never saw cannot be sampled: SDV's "Unable to sample any rows" becomes ours
    labelled = table.assign(faulty=np.r_[np.ones(20, int), np.zeros(80, int)])
    synth = CTGANSynthesizer(
        seed=0,
        progress=False,
        condition_column="faulty",
        condition_value=1,
        max_tries_per_batch=1,
        **FAST[CTGANSynthesizer],
    ).fit(labelled)
    synth.config.condition_value = 7
    with pytest.raises(SynthesisError, match="faulty: CTGAN produced no row with value 7"):
        synth.sample(10)


def test_settings_and_history_have_one_shape_for_all(fitted):
    params = fitted.get_parameters()
    assert params["seed"] == 4 and all(params[k] == v for k, v in FAST[type(fitted)].items())
    assert [h["epoch"] for h in fitted.history] == list(range(fitted.total_epochs)) and fitted.total_epochs >= 2
    losses = {k for h in fitted.history for k in h} - {"epoch"}
    assert losses and all(np.isfinite(h[k]) for h in fitted.history for k in losses)


def test_unknown_settings_are_named():
    for cls in FAST:
        with pytest.raises(TypeError, match="'epochs'"):
            cls(epochs=3)  # budgets are steps


def test_the_registry_names_every_synthesizer_with_its_search_space():

    from shopfloor.synth.catalog import NAMES, parse_selection, synthesizer_class

    assert NAMES == ("wgan", "ctgan", "flow") and parse_selection("all") == list(NAMES)
    assert parse_selection("flow, wgan,flow") == ["flow", "wgan"]
    with pytest.raises(ValueError, match="comma-separated choice"):
        parse_selection("gan")
    for name in NAMES:
        cls = synthesizer_class(name)
        settings = cls.search_space(_first_trial(), 40)
        assert 5 <= settings["steps"] <= 40
        cls(**settings)  # every searched name is a setting of the class


def _first_trial():
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return study.ask()


@pytest.fixture(scope="module")
def mixed():
    """A table as a line writes it: a measurement, a count, a product type and a flag."""
    rng = np.random.default_rng(1)
    n = 160
    kind = rng.choice(["L", "M", "H"], n, p=[0.6, 0.3, 0.1])
    wear = rng.integers(0, 240, n)
    return pd.DataFrame(
        {
            "torque": 40 + 10 * (kind == "H") + rng.normal(0, 3, n) + 0.02 * wear,
            "wear": wear,
            "Type": kind,
            "coolant_on": rng.random(n) < 0.3,
        }
    )


MIXED = {
    WGANSynthesizer: {"steps": 150},
    CTGANSynthesizer: {"steps": 10, "batch_size": 50},
    FlowSynthesizer: {"steps": 150},
}


@pytest.mark.parametrize("cls", list(MIXED), ids=lambda c: c.__name__)
def test_mixed_types_come_back_as_they_went_in(cls, mixed):
    """Categories stay categories seen in training, integers stay integers in their range, flags stay flags."""
    out = cls(seed=0, progress=False, **MIXED[cls]).fit(mixed).sample(600)
    assert out.dtypes.equals(mixed.dtypes) and list(out.columns) == list(mixed.columns)
    assert set(out["Type"]) <= {"L", "M", "H"} and len(set(out["Type"])) >= 2
    assert out["wear"].between(mixed["wear"].min(), mixed["wear"].max()).all()
    assert set(out["coolant_on"].unique()) <= {True, False}
    assert np.isfinite(out["torque"]).all()


def test_the_table_encoder_round_trips_and_dequantizes():
    from shopfloor.synth.table import TableEncoder, detect

    table = pd.DataFrame({"x": [0.5, 1.5, 2.5], "n": [1, 2, 3], "c": ["a", "b", "a"], "f": [True, False, True]})
    assert [s.kind for s in detect(table)] == ["continuous", "integer", "categorical", "boolean"]
    plain = TableEncoder().fit(table)
    encoded = plain.encode(table)
    assert encoded.shape == (3, 2 + 2 + 2) and encoded[:, :2].min() == -1.0 and encoded[:, :2].max() == 1.0
    pd.testing.assert_frame_equal(plain.decode(encoded), table)
    noisy = TableEncoder("standard", dequantize=True).fit(table)
    z = noisy.encode(table, np.random.default_rng(0))
    assert not np.allclose(z, noisy.encode(table))  # noise added to integers and one-hot entries
    pd.testing.assert_frame_equal(noisy.decode(z), table)  # floor and argmax undo it
