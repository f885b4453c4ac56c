import numpy as np
import pandas as pd
import pytest

from shopfloor.synth.wgan import WGANSynthesizer


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    a = rng.normal(2.0, 0.5, 120)
    return pd.DataFrame({"force": a, "torque": 3 * a + rng.normal(0, 0.2, 120), "count": rng.integers(0, 5, 120)})


def _fit(table, **kw):
    return WGANSynthesizer(seed=1, progress=False, steps=120, hidden_units=32, **kw).fit(table)  # 40 epochs


def test_fit_sample_shapes_dtypes_and_columns(table):
    synth = _fit(table)
    out = synth.sample(500)
    assert out.shape == (500, 3)
    assert list(out.columns) == ["force", "torque", "count"]
    assert out.dtypes.equals(table.dtypes)
    assert out["force"].between(table["force"].min() - 1e-6, table["force"].max() + 1e-6).all()  # tanh range
    assert len(synth.history) == synth.total_epochs == 40  # 120 generator steps, 3 a pass over 120 rows


def test_deterministic_under_seed(table):
    a, b = _fit(table), _fit(table)
    pd.testing.assert_frame_equal(a.sample(50), b.sample(50))
    assert not a.sample(50, seed=5).equals(a.sample(50, seed=6))


def test_save_load_round_trip(table, tmp_path):
    synth = _fit(table, penalty="clip")
    synth.save(tmp_path / "w.pt")
    loaded = WGANSynthesizer.load(tmp_path / "w.pt")
    pd.testing.assert_frame_equal(synth.sample(64, seed=3), loaded.sample(64, seed=3))


def test_learns_the_correlation(table):
    synth = WGANSynthesizer(seed=0, progress=False, steps=600, hidden_units=64, batch_size=32).fit(table)
    out = synth.sample(2000)
    assert out["force"].corr(out["torque"]) > 0.6
    assert abs(out["force"].mean() - table["force"].mean()) < 0.4


def test_rejects_bad_settings_and_tables(table):
    with pytest.raises(TypeError):
        WGANSynthesizer(no_such_setting=1)
    with pytest.raises(ValueError, match="penalty"):
        WGANSynthesizer(penalty="none")
    with pytest.raises(ValueError, match="force"):
        WGANSynthesizer().fit(table.assign(force=np.nan))
