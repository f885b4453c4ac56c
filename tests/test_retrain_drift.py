"""Drift statistics on known shifted and unshifted samples; the Kienzle cutting-force simulator."""

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.simulate import KIENZLE, kienzle_force, simulate_cutting_force
from shopfloor.errors import DataError
from shopfloor.retraining.drift import drift_report, psi


def test_drift_flags_the_shifted_feature_only():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"a": rng.normal(size=4000), "b": rng.normal(size=4000)})
    new = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(0.5, 1.0, size=2000)})
    report = drift_report(reference, new)
    assert report.drifted == ["b"] and report.any_drift
    assert report.table.loc["a", "ks"] < 0.05 and report.table.loc["a", "psi"] < 0.02
    assert report.table.loc["b", "psi"] > 0.2 and report.table.loc["b", "ks_pvalue"] < 1e-6


def test_psi_by_hand():
    reference = np.repeat(np.arange(10.0), 100)  # each decile holds 10 %
    same = psi(reference, reference)
    assert same == pytest.approx(0.0)
    moved = np.r_[np.repeat(np.arange(10.0), 50), np.full(500, 9.0)]  # last bin 55 %, others 5 %
    expected = 9 * (0.05 - 0.1) * np.log(0.05 / 0.1) + (0.55 - 0.1) * np.log(0.55 / 0.1)
    assert psi(reference, moved) == pytest.approx(expected, rel=1e-9)


def test_drift_input_errors_are_named():
    reference = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]})
    with pytest.raises(DataError, match="b: column of the reference data is missing"):
        drift_report(reference, pd.DataFrame({"a": [1.0]}))
    with pytest.raises(DataError, match="no rows"):
        drift_report(reference, reference.head(0))


def test_kienzle_law_and_corrections():
    c = KIENZLE["C35"]
    # at h = 1 mm, the table's rake angle and v where the speed factor is 1, k_c = k_c1.1
    v_unit = 1.38 ** (1 / 0.07)
    assert kienzle_force(1.0, c["gamma0"], v_unit, "C35") == pytest.approx(c["kc11"])
    assert kienzle_force(0.1, 6, 100, "C35") / kienzle_force(1.0, 6, 100, "C35") == pytest.approx(10 ** c["mc"])
    assert kienzle_force(0.2, 16, 100, "C35") == pytest.approx(0.85 * kienzle_force(0.2, 6, 100, "C35"))
    assert kienzle_force(0.2, 6, 200, "C35") < kienzle_force(0.2, 6, 100, "C35")
    with pytest.raises(ValueError, match="material"):
        kienzle_force(0.2, 6, 100, "unobtainium")


def test_cutting_force_simulator():
    a = simulate_cutting_force(91, "C35", seed=1)
    b = simulate_cutting_force(91, "42CrMo4", seed=1)
    assert list(a.columns) == ["h_mm", "rake_deg", "speed_m_min", "kc_N_mm2"] and len(a) == 91
    assert (b.kc_N_mm2 > a.kc_N_mm2).mean() > 0.95  # the alloyed steel needs more force
    exact = kienzle_force(a.h_mm, a.rake_deg, a.speed_m_min, "C35")
    assert 0.01 < (a.kc_N_mm2 / exact - 1).std() < 0.03
