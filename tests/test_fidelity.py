import numpy as np
import pandas as pd
import pytest
from sdmetrics.column_pairs import CorrelationSimilarity
from sdmetrics.single_column import KSComplement

from shopfloor.synth import fidelity as fid


def test_hand_computed_values_on_a_tiny_table():
    real = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [0.0, 1.0, 2.0, 3.0]})
    synth = pd.DataFrame({"a": [0.0, 1.0, 2.0, 9.0], "b": [3.0, 2.0, 1.0, 0.0]})
    # a: ECDFs differ by 1/4 at most; b: identical marginals
    assert fid.ks_complement(real, synth) == pytest.approx((0.75 + 1.0) / 2)
    # r_real(a, b) = 1; r_synth(a, b) = corr([0,1,2,9], [3,2,1,0])
    r_s = np.corrcoef([0, 1, 2, 9], [3, 2, 1, 0])[0, 1]
    assert fid.correlation_similarity(real, synth) == pytest.approx(1 - abs(1 - r_s) / 2)
    # on real-range-scaled columns: a moves one of four points from 1 to 3 -> 0.5; b: 0
    assert fid.wasserstein(real, synth) == pytest.approx((0.5 + 0.0) / 2)
    assert fid.jensen_shannon(real, real) == pytest.approx(0.0)
    assert fid.fidelity_loss(real, real) == pytest.approx(0.0)


def test_agrees_with_sdmetrics():
    rng = np.random.default_rng(0)
    real = pd.DataFrame(rng.normal(size=(80, 3)), columns=list("xyz"))
    synth = pd.DataFrame(rng.normal(0.3, 1.2, size=(120, 3)), columns=list("xyz"))
    ks = np.mean([KSComplement.compute(real[c], synth[c]) for c in real])
    cs = np.mean(
        [CorrelationSimilarity.compute(real[[a, b]], synth[[a, b]]) for a, b in [("x", "y"), ("x", "z"), ("y", "z")]]
    )
    assert fid.ks_complement(real, synth) == pytest.approx(ks, abs=1e-9)
    assert fid.correlation_similarity(real, synth) == pytest.approx(cs, abs=1e-9)


def test_categorical_columns_are_scored_as_categories_like_sdmetrics():
    from sdmetrics.single_column import TVComplement

    rng = np.random.default_rng(2)
    real = pd.DataFrame({"x": rng.normal(size=300), "Type": rng.choice(["L", "M", "H"], 300, p=[0.6, 0.3, 0.1])})
    synth = pd.DataFrame({"x": rng.normal(size=200), "Type": rng.choice(["L", "M", "H"], 200, p=[0.2, 0.4, 0.4])})
    assert fid.tv_complement(real, synth) == pytest.approx(TVComplement.compute(real["Type"], synth["Type"]), abs=1e-9)
    assert fid.ks_complement(real, synth) == pytest.approx(KSComplement.compute(real["x"], synth["x"]), abs=1e-9)
    shapes = (fid.tv_complement(real, synth) + fid.ks_complement(real, synth)) / 2
    assert fid.column_shapes(real, synth) == pytest.approx(shapes)
    assert fid.correlation_similarity(real, synth) == 1.0  # one numeric column: no pair to compare


def test_report_names_and_disjoint_distributions():
    real = pd.DataFrame({"a": np.linspace(0, 1, 50)})
    far = pd.DataFrame({"a": np.linspace(5, 6, 50)})
    rep = fid.fidelity_report(real, far)
    assert set(rep) == set(fid.HIGHER_IS_BETTER)
    assert rep["ks_complement"] == pytest.approx(0.0)
    assert rep["jensen_shannon"] == pytest.approx(1.0)
