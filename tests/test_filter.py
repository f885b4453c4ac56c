import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import DataError
from shopfloor.synth.filter import filter_rows, kmeans_filter


def _train():
    rng = np.random.default_rng(0)
    good = rng.normal(0.0, 0.3, size=(90, 2))
    bad = rng.normal(5.0, 0.3, size=(10, 2))
    x = pd.DataFrame(np.vstack([good, bad]), columns=["a", "b"])
    return x, np.r_[np.zeros(90, int), np.ones(10, int)]


def test_keeps_n_nearest_within_dmax():
    x, y = _train()
    # 100 candidates at increasing distance from (5, 5) along the a axis
    cand = pd.DataFrame({"a": 5.0 + np.linspace(0.0, 3.0, 100), "b": 5.0 * np.ones(100)})
    res = kmeans_filter(cand, x, y, d_max=10.0, n_target=80)
    assert res.premise_holds and res.cluster_share == 1.0
    assert len(res.kept) == 80
    assert np.allclose(res.centroid, x[y == 1].mean(), atol=1e-9)
    assert res.kept["a"].is_monotonic_increasing  # nearest first
    assert res.kept["a"].max() < cand["a"].iloc[80]


def test_dmax_rule_drops_far_rows_even_below_n():
    x, y = _train()
    cand = pd.DataFrame({"a": [5.0, 5.5, 9.0, 0.0], "b": [5.0, 5.0, 5.0, 0.0]})
    res = kmeans_filter(cand, x, y, d_max=1.0)
    assert list(res.kept["a"]) == [5.0, 5.5]  # 9.0 is 4 away, (0, 0) is a good-cluster row
    # the default d_max is the 95 % quantile of real minority distances: about the cluster radius
    res = kmeans_filter(cand, x, y)
    real = np.linalg.norm(x[y == 1].to_numpy() - res.centroid, axis=1)
    assert res.d_max == np.quantile(real, 0.95)
    assert list(res.kept_index) == [i for i in np.argsort(res.distances) if res.distances[i] <= res.d_max]
    assert 0 in res.kept_index and 2 not in res.kept_index and 3 not in res.kept_index


def test_the_premise_is_checked_when_2_means_splits_on_something_else():
    """Two product types far apart on one axis, faults near the healthy mean of each type on the other:
    2-means splits by type, so neither cluster is faulty; the filter says so and uses the faults' centroid."""
    rng = np.random.default_rng(3)
    kind = np.repeat([-10.0, 10.0], 200)
    label = (rng.random(400) < 0.05).astype(int)
    x = pd.DataFrame({"type": kind + rng.normal(0, 0.1, 400), "torque": rng.normal(0, 1, 400) + 3.0 * label})
    cand = pd.DataFrame({"type": [-10.0, 0.0], "torque": [3.0, -3.0]})
    res = kmeans_filter(cand, x, label)
    assert not res.premise_holds and res.cluster_share < 2 * res.base_rate
    assert np.allclose(res.centroid, x[label == 1].mean().to_numpy())
    assert "did not separate faulty rows" in res.note
    info = filter_rows("kmeans", cand, x, label).info
    assert info["premise_holds"] is False and "centroid of the real faulty rows" in info["note"]


def test_the_discriminator_keeps_rows_that_look_faulty():
    x, y = _train()
    cand = pd.DataFrame({"a": [5.0, 4.8, 0.1, -0.2], "b": [5.1, 5.2, 0.0, 0.1]})
    result = filter_rows("discriminator", cand, x, y, seed=0)
    assert sorted(result.order) == [0, 1]
    assert result.info["kept"] == 2 and result.info["candidates"] == 4


def test_none_keeps_everything_in_order_and_unknown_methods_are_named():
    x, y = _train()
    cand = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 0.0, 0.0]})
    assert filter_rows("none", cand, x, y).order.tolist() == [0, 1, 2]
    with pytest.raises(DataError, match="filter: must be one of"):
        filter_rows("nearest", cand, x, y)
