"""Health index: loss pieces on tiny tensors, APAIC recovering a known HI, PAVA, the HI metrics."""

import math

import numpy as np
import pytest
import torch

from shopfloor.data.simulate import simulate_run_to_failure, wear_curve
from shopfloor.health.apaic import APAIC, RealTimeAPAIC, project_ideal
from shopfloor.health.deepsad import FAILED, HEALTHY, UNLABELLED, DeepSAD, deepsad_loss, diversity_loss
from shopfloor.health.features import log_mel_energies
from shopfloor.health.metrics import correlation, monotonicity, prognosability, rescaled_rmse, trendability


def test_deepsad_loss_by_hand():
    emb = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [3.0, 0.0]])  # squared norms 1, 4, 2, 9
    labels = torch.tensor([UNLABELLED, UNLABELLED, HEALTHY, FAILED])
    # mu * mean(1, 4) + eta * mean(2^1, 9^-1)
    expected = 0.5 * (1 + 4) / 2 + 2.0 * (2 + 1 / 9) / 2
    assert deepsad_loss(emb, labels, mu=0.5, eta=2.0, eps=0.0).item() == pytest.approx(expected, rel=1e-6)


def test_diversity_loss_by_hand_and_minimum_at_identity():
    y = torch.tensor([[2.0, 0.0], [0.0, 1.0]])  # C = Y^T Y / 2 = diag(2, 0.5)
    expected = -math.log(2 * 0.5) + 2.5
    assert diversity_loss(y, jitter=0.0).item() == pytest.approx(expected, rel=1e-6)
    identity = torch.eye(3) * math.sqrt(3)  # C = I
    assert diversity_loss(identity, jitter=0.0).item() == pytest.approx(3.0, rel=1e-6)
    collapsed = torch.ones(4, 3)  # rank one: the jitter keeps it finite, and large
    assert math.isfinite(diversity_loss(collapsed).item()) and diversity_loss(collapsed).item() > 10


def test_deepsad_has_no_bias_and_a_centre_away_from_zero():
    x = np.random.default_rng(0).normal(size=(200, 5))
    model = DeepSAD(epochs=5, embedding_dim=4, diversity=1.0).fit(x)
    assert all(layer.bias is None for layer in model.encoder if isinstance(layer, torch.nn.Linear))
    assert torch.all(model.center.abs() >= 0.1 - 1e-9)
    embedding = model.transform(x)  # the embedding minus the centre, so the score is its squared norm
    assert embedding.shape == (200, 4)
    assert np.allclose(model.score(x), (embedding ** 2).sum(axis=1), rtol=1e-5)


def test_2ds_embedding_has_higher_rank_than_deepsad():
    x = np.random.default_rng(1).normal(size=(400, 10))
    ranks = []
    for lam in (0.0, 1.0):
        emb = DeepSAD(epochs=40, embedding_dim=6, diversity=lam, seed=0).fit(x).transform(x)
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
    assert rescaled_rmse(3 * up + 1, up) == pytest.approx(0.0, abs=1e-9)
    assert trendability([up, np.arange(20.0)]) == pytest.approx(1.0)
    assert trendability([up, -up]) == pytest.approx(-1.0)
    assert prognosability([np.array([0.0, 1.0]), np.array([0.0, 0.5, 1.0])]) == pytest.approx(1.0)
    assert prognosability([np.array([0.0, 1.0]), np.array([0.0, 3.0])]) == pytest.approx(math.exp(-1.0 / 2.0))


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
    train = [np.linspace(0, 1, n)[:, None] * rng.normal(size=(1, 4)) + 0.01 * rng.normal(size=(n, 4))
             for n in (60, 70)]
    unit = np.linspace(0, 1, 50)[:, None] * train[0][-1:] + 0.01 * rng.normal(size=(50, 4))
    hi = RealTimeAPAIC(t_d=10, t_f=10, delta_t=10).run(train, unit)
    assert hi.shape == (50,) and np.isfinite(hi).all() and monotonicity(hi) > 0.5


def _table():
    import pandas as pd

    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"engine": u, "cycle": np.arange(70), "s1": rng.normal(size=70),
                                    "s2": rng.normal(size=70)}) for u in (1, 2)], ignore_index=True)


@pytest.mark.parametrize("mutate, field", [
    (lambda t: t.drop(columns=["engine"]), "engine"),
    (lambda t: t.drop(columns=["cycle"]), "cycle"),
    (lambda t: t[(t.engine == 1) | (t.cycle == 0)], "engine=2"),  # a unit with one row
    (lambda t: t.assign(cycle=np.r_[np.arange(70), np.arange(70)[::-1]]), "cycle (unit 2)"),
    (lambda t: t[t.cycle < 50], "engine=1"),  # shorter than T_d + T_f = 60
    (lambda t: t.assign(s2="x"), "s2"),
])
def test_bad_trajectories_are_named(mutate, field):
    from shopfloor.errors import DataError
    from shopfloor.health.data import load_trajectories

    with pytest.raises(DataError) as err:
        load_trajectories(mutate(_table()), "engine", "cycle", t_d=30, t_f=30)
    assert err.value.field == field


def test_good_trajectories_load_in_time_order():
    from shopfloor.health.data import load_trajectories

    table = _table().sample(frac=1.0, random_state=0)  # shuffled rows, but each unit's time increases
    with pytest.raises(Exception, match="time must increase"):
        load_trajectories(table, "engine", "cycle", t_d=30, t_f=30)
    traj = load_trajectories(_table(), "engine", "cycle", t_d=30, t_f=30)
    assert traj.units == [1, 2] and traj.features == ["s1", "s2"] and traj.arrays[0].shape == (70, 2)
