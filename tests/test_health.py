"""Health index: loss pieces on tiny tensors, APAIC recovering a known HI, PAVA, the HI metrics as the paper
writes them, causality, operating regimes, remaining life."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from shopfloor.data.simulate import simulate_run_to_failure, wear_curve
from shopfloor.health_index.apaic import APAIC, RealTimeAPAIC, project_ideal
from shopfloor.health_index.deepsad import FAILED, HEALTHY, UNLABELLED, DeepSAD, deepsad_loss, diversity_loss
from shopfloor.health_index.estimator import HealthIndexModel, HIConfig
from shopfloor.health_index.features import log_mel_energies
from shopfloor.health_index.metrics import (
    correlation,
    monotonicity,
    pairwise_trendability,
    prognosability,
    prognosability_last,
    rescaled_rmse,
    shared_rescaling,
    trendability,
    trendability_pearson,
)
from shopfloor.health_index.prepare import OperatingRegimes, UnitFeatures, life_steps
from shopfloor.health_index.rul import RulModel, nasa_score

FAST = {"epochs": 20, "embedding_dim": 4}


def test_deepsad_loss_by_hand():
    emb = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0]])  # squared norms 1, 4, 2, 9
    labels = torch.tensor([UNLABELLED, UNLABELLED, HEALTHY, FAILED])
    # (mu * (1 + 4) + eta * (2^1 + 9^-1)) / 4 rows, as Ruff et al. average over the batch
    expected = (0.5 * (1 + 4) + 2.0 * (2 + 1 / 9)) / 4
    assert deepsad_loss(emb, labels, mu=0.5, eta=2.0, eps=0.0).item() == pytest.approx(expected, rel=1e-6)


def test_diversity_term_at_the_papers_scale_by_hand():
    """Eq. 2 on the Gram matrix itself, C = Y^T Y (no division by the rows)."""
    y = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # C = [[5, 1], [1, 2]]: det 9, trace 7
    assert diversity_loss(y, jitter=0.0).item() == pytest.approx(-math.log(9.0) + 7.0, rel=1e-6)
    identity = torch.eye(3)  # C = I: the minimum, -ln 1 + 3
    assert diversity_loss(identity, jitter=0.0).item() == pytest.approx(3.0, rel=1e-6)
    collapsed = torch.ones(4, 3)  # rank one: the jitter keeps it finite, and large
    assert math.isfinite(diversity_loss(collapsed).item()) and diversity_loss(collapsed).item() > 10


def test_the_papers_settings_are_the_defaults():
    model = DeepSAD()
    cfg = model.config
    assert (cfg.embedding_dim, cfg.hidden, cfg.epochs, cfg.learning_rate, cfg.batch_size) == (
        16,
        (32, 32),
        1000,
        5e-4,
        128,
    )
    assert (cfg.mu, cfg.eta, cfg.weight_decay) == (0.1, 1.0, 1.0)
    assert HIConfig().diversity == 0.001


def test_deepsad_has_no_bias_and_a_centre_the_healthy_rows_reach():
    """The centre is the healthy rows' mean embedding: trained with them labelled, they sit closer to it
    than the failed rows, and the rows are not standardized onto the origin the encoder maps to zero."""
    rng = np.random.default_rng(0)
    healthy = rng.normal(1.0, 0.3, size=(150, 5))
    failed = rng.normal(-1.0, 0.3, size=(50, 5))
    x = np.vstack([healthy, failed])
    labels = np.r_[np.full(150, HEALTHY), np.full(50, FAILED)]
    model = DeepSAD(epochs=60, embedding_dim=4, weight_decay=1e-4, learning_rate=1e-3).fit(x, labels)
    assert all(layer.bias is None for layer in model.encoder if isinstance(layer, torch.nn.Linear))
    assert torch.all(model.center.abs() >= 0.1 - 1e-9)
    embedding = model.transform(x)  # the embedding minus the centre, so the score is its squared norm
    assert np.allclose(model.score(x), (embedding**2).sum(axis=1), rtol=1e-5)
    assert model.score(healthy).mean() < 0.2 * model.score(failed).mean()


def test_2ds_embedding_has_higher_rank_than_deepsad():
    x = np.random.default_rng(1).normal(size=(400, 10))
    ranks = []
    for lam in (0.0, 0.01):
        emb = (
            DeepSAD(epochs=40, embedding_dim=6, diversity=lam, weight_decay=1e-5, learning_rate=1e-3, seed=0)
            .fit(x)
            .transform(x)
        )
        s = np.linalg.svd(emb - emb.mean(0), compute_uv=False)
        ranks.append((s / s[0] > 0.05).sum())
    assert ranks[1] >= ranks[0] and ranks[1] == 6


def test_pava_projection_is_non_decreasing_and_respects_bounds():
    h = np.array([0.3, -0.2, 0.1, 0.5, 0.4, 0.9, 0.7, 0.6])
    z = project_ideal(h, t_d=2, t_f=2)
    assert np.all(np.diff(z) >= -1e-12)
    assert np.all(z[:2] <= 1e-12) and np.all(z[-2:] >= 1.0 - 1e-12)  # clipped ends (PAVA keeps them here)
    running = project_ideal(h, t_d=2, t_f=None)  # E_I^Test: no failure bound, so the end is not lifted
    assert np.all(np.diff(running) >= -1e-12) and running[-1] < 1.0


def test_apaic_recovers_a_known_ideal_hi():
    rng = np.random.default_rng(0)
    trajectories, truth = [], []
    for life in (80, 100, 120):
        hi = np.clip((np.arange(life) - 20) / (life - 40), 0.0, 1.0)  # 0 for 20 steps, ramps to 1 at life - 20
        mixing = rng.normal(size=(1, 6))
        noise = 0.01 * rng.normal(size=(life, 6))
        trajectories.append(hi[:, None] * mixing + noise)
        truth.append(hi)
    fusion = APAIC(t_d=20, t_f=20, beta=1e-3).fit(trajectories)
    for y, hi in zip(trajectories, truth, strict=True):
        est = fusion.transform(y)
        assert np.corrcoef(est, hi)[0, 1] > 0.95
        # in (or next to) the ideal set: <= 0 while healthy, >= 1 at the end
        assert est[:20].mean() < 0.05 and est[-20:].mean() > 0.95


def test_metrics_on_hand_made_trajectories():
    up = np.arange(10.0)
    assert monotonicity(up) == 1.0 and monotonicity(-up) == -1.0
    assert monotonicity(np.array([0.0, 2.0, 1.0])) == pytest.approx((1 * 1 + 1 * 2 - 1 * 1) / (1 + 2 + 1))
    assert correlation(up, 2 * up) == pytest.approx(1.0)
    assert trendability([up, np.arange(20.0)]) == pytest.approx(1.0)
    # Eq. 16 at t_P: the least-worn unit peaks at 1.0; the others are read where they first reach 1.0
    a, b = np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 2.0, 3.0])
    assert prognosability([a, b]) == pytest.approx(1.0)  # both read at 1.0: no spread
    assert prognosability_last([a, b]) == pytest.approx(math.exp(-1.0 / 2.0))  # ends 1 and 3


def test_cosine_and_pearson_trendability_differ_where_they_should():
    """Two units rising alike but one from an offset: Pearson sees the same trend (1), the paper's cosine
    form (Eq. 10) sees the offset; and a unit whose HI falls is anti-trended in both."""
    t = np.linspace(0, 1, 50)
    rising, offset = t, 5.0 + t
    assert trendability_pearson([rising, offset]) == pytest.approx(1.0)
    assert trendability([rising, offset]) < 0.9
    assert trendability_pearson([rising, 1 - t]) == pytest.approx(-1.0)
    pairs = pairwise_trendability([rising, 2 * t, offset])
    assert len(pairs) == 3 and pairs.max() == pytest.approx(1.0)


def test_shared_rescaling_is_one_map_for_all_units():
    refs = [np.linspace(0, 100, 50), np.linspace(0, 80, 40)]
    his = [r / 100.0 for r in refs]  # the same shape at another scale: one map undoes it
    scale, shift = shared_rescaling(his, refs)
    assert scale == pytest.approx(100.0) and shift == pytest.approx(0.0, abs=1e-9)
    assert max(rescaled_rmse(his, refs)) == pytest.approx(0.0, abs=1e-9)
    skewed = [his[0], 2 * his[1]]  # a per-unit fit would hide this; the shared map cannot
    assert rescaled_rmse(skewed, refs)[1] > 10


def test_unit_features_are_causal_and_regimes_remove_offsets():
    rng = np.random.default_rng(2)
    unit = rng.normal(size=(40, 3)).cumsum(axis=0)
    features = UnitFeatures(baseline=10, window=5)
    full = features.transform(unit)
    for t in (1, 5, 12, 30):
        assert np.allclose(features.transform(unit[:t]), full[:t])  # a prefix's rows never change
    assert full.shape == (40, 6)
    own = UnitFeatures(baseline=10).transform(unit)
    assert np.allclose(own[20], unit[20] - unit[:10].mean(axis=0))  # minus the unit's first 10 rows' mean
    assert np.allclose(own[3], unit[3] - unit[:4].mean(axis=0))  # before 10 rows exist: the rows so far
    # three set points shifting both sensors; regimes found from the two setting columns
    regime = rng.integers(0, 3, 900)
    settings = np.array([[0.0, 10.0], [25.0, 60.0], [42.0, 100.0]])[regime] + rng.normal(0, 0.2, (900, 2))
    offsets = np.array([[0.0, 100.0], [30.0, 80.0], [-20.0, 130.0]])[regime]
    rows = pd.DataFrame(
        {
            "set1": settings[:, 0],
            "set2": settings[:, 1],
            "s1": offsets[:, 0] + rng.normal(0, 1, 900),
            "s2": offsets[:, 1] + rng.normal(0, 2, 900),
        }
    )
    regimes = OperatingRegimes(["set1", "set2"]).fit(rows, ["s1", "s2"])
    assert regimes.count == 3
    cleaned = regimes.transform(rows)
    for r in range(3):
        assert np.allclose(cleaned[regime == r].mean(axis=0), 0.0, atol=0.15)  # regime offsets gone
    assert abs(np.corrcoef(cleaned[:, 0], regime)[0, 1]) < 0.1


def test_life_steps_take_shares_and_counts():
    assert life_steps(200, 0.15) == 30 and life_steps(200, 30) == 30 and life_steps(10, 0.01) == 1
    with pytest.raises(Exception, match="must be positive"):
        life_steps(100, 0)


def test_the_served_hi_of_a_prefix_does_not_change_when_rows_are_added():
    data = simulate_run_to_failure(units=4, min_life=70, max_life=90, n_bands=6, seed=5)
    units = [g.sort_values("time")[[c for c in g if c.startswith("band")]].to_numpy() for _, g in data.groupby("unit")]
    model = HealthIndexModel(HIConfig(t_d=15, t_f=15, baseline=True, window=5, deepsad=FAST), seed=0).fit(units[:3])
    full = model.transform(units[3])
    for t in (5, 20, 60):
        assert np.allclose(model.transform(units[3][:t]), full[:t])


def test_remaining_life_on_a_linear_degradation():
    """Units whose HI rises linearly to 1 at failure: the regression reads the remaining steps from the HI."""
    rng = np.random.default_rng(4)
    his = [np.linspace(0, 1, life) + rng.normal(0, 0.005, life) for life in rng.integers(150, 250, 40)]
    rul = RulModel().fit(his)
    life = 200
    curve = np.linspace(0, 1, life)
    predicted = rul.predict(curve)
    true = np.minimum(np.arange(life)[::-1], 125)
    assert np.sqrt(np.mean((predicted - true)[-120:] ** 2)) < 12  # the last 120 steps, where the cap is not hit
    late, early = nasa_score([10.0], [0.0]), nasa_score([-10.0], [0.0])
    assert late == pytest.approx(math.exp(1.0) - 1) and early == pytest.approx(math.exp(10 / 13) - 1)
    assert early < late  # late predictions cost more


def test_run_to_failure_simulator_and_features():
    data = simulate_run_to_failure(units=3, min_life=40, max_life=60, n_bands=8, seed=2)
    assert set(data.columns) == {"unit", "time", "wear", *(f"band_{b:02d}" for b in range(8))}
    for _, unit in data.groupby("unit"):
        assert 40 <= len(unit) <= 60 and unit.time.is_monotonic_increasing
        assert unit.wear.iloc[-1] == pytest.approx(1.0) and np.all(np.diff(unit.wear) >= 0)
    curve = wear_curve(300, np.random.default_rng(0))
    slopes = np.diff(curve)
    assert slopes[:5].mean() > slopes[100:150].mean() < slopes[-5:].mean()  # running-in, steady, accelerating
    tone = np.sin(2 * np.pi * 1000 * np.arange(1024) / 10240.0)
    bands = log_mel_energies(tone, 10240.0, n_bands=16)
    assert bands.shape == (1, 16) and 3 <= int(np.argmax(bands)) <= 8  # 1 kHz lands in a low-middle mel band


def test_realtime_apaic_scores_every_step():
    rng = np.random.default_rng(3)
    train = [np.linspace(0, 1, n)[:, None] * rng.normal(size=(1, 4)) + 0.01 * rng.normal(size=(n, 4)) for n in (60, 70)]
    unit = np.linspace(0, 1, 50)[:, None] * train[0][-1:] + 0.01 * rng.normal(size=(50, 4))
    hi = RealTimeAPAIC(t_d=10, t_f=10, delta_t=10).run(train, unit)
    assert hi.shape == (50,) and np.isfinite(hi).all() and monotonicity(hi) > 0.5


def _table():
    rng = np.random.default_rng(0)
    return pd.concat(
        [
            pd.DataFrame(
                {"engine": u, "cycle": np.arange(70), "s1": rng.normal(size=70), "s2": rng.normal(size=70), "alt": 1.0}
            )
            for u in (1, 2)
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    "mutate, field, kw",
    [
        (lambda t: t.drop(columns=["engine"]), "engine", {}),
        (lambda t: t.drop(columns=["cycle"]), "cycle", {}),
        (lambda t: t[(t.engine == 1) | (t.cycle == 0)], "engine=2", {}),  # a unit with one row
        (lambda t: t.assign(cycle=np.r_[np.arange(70), np.arange(70)[::-1]]), "cycle (unit 2)", {}),
        (lambda t: t[t.cycle < 50], "engine=1", {}),  # shorter than T_d + T_f = 60
        (lambda t: t.assign(s2="x"), "s2", {}),
        (lambda t: t, "mach", {"conditions": ["mach"]}),  # --condition naming an absent column
        (lambda t: t, "engine=1", {"window": 80}),  # a unit shorter than the window
    ],
)
def test_bad_trajectories_are_named(mutate, field, kw):
    from shopfloor.errors import DataError
    from shopfloor.health_index.data import load_trajectories

    with pytest.raises(DataError) as err:
        load_trajectories(mutate(_table()), "engine", "cycle", t_d=30, t_f=30, **kw)
    assert err.value.field == field


def test_good_trajectories_load_in_time_order():
    from shopfloor.health_index.data import load_trajectories

    table = _table().sample(frac=1.0, random_state=0)  # shuffled rows, but each unit's time increases
    with pytest.raises(Exception, match="time must increase"):
        load_trajectories(table, "engine", "cycle", t_d=30, t_f=30)
    traj = load_trajectories(_table(), "engine", "cycle", t_d=0.2, t_f=0.2, conditions=["alt"])
    assert traj.units == [1, 2] and traj.features == ["s1", "s2"] and traj.arrays[0].shape == (70, 2)
