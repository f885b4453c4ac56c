import numpy as np
import pandas as pd

from shopfloor.synth.filter import kmeans_filter


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
    res = kmeans_filter(cand, x, y, d_max=10.0)
    assert res.n_target == 80  # majority - minority
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
