"""Tool-wear prognosis: Eq. 20 and its rejection rule, the conditional flow's exact likelihood, posterior
recovery of known parameters, remaining cuts, MCMC's effective sample size, curves from tables, the
sequence contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.store import SHARED

from shopfloor.contract import SequenceSchema, Tensor
from shopfloor.errors import DataError
from shopfloor.prognosis import wear_model as wm
from shopfloor.prognosis.curves import CurveWarning, check_sequence, load_curves
from shopfloor.prognosis.forecast import forecast, remaining_cuts
from shopfloor.prognosis.mcmc import effective_size, integrated_time, metropolis
from shopfloor.prognosis.posterior import PosteriorConfig, fit_posterior
from shopfloor.synth.flow import RealNVP


# ------------------------------------------------------------------ Eq. 20 and the prior
def test_eq20_recursion():
    x = wm.curves(np.array([[0.5, 0.2]]), 4)[0]
    expected = [0.0]
    for k in range(3):
        expected.append(expected[-1] + 0.4 * 0.2 * np.exp(0.4 * 0.5 * k))
    assert np.allclose(x, expected)
    later = wm.curves(np.array([[0.5, 0.2]]), 3, k0=1, x0=expected[1])[0]
    assert np.allclose(later, expected[1:])


def test_rejection_rule_on_hand_made_curves():
    k = np.arange(25, dtype=float)
    good = 0.02 * (np.exp(0.15 * k) - 1)  # accelerating, gentle
    decreasing = -0.01 * k
    steep = np.exp(0.3 * k) - 1  # above exp(0.2 k) - 1
    straight = 0.02 * k  # not accelerating: mean second difference 0
    decelerating = 0.3 * np.sqrt(k)
    kept = wm.physically_expected(np.stack([good, decreasing, steep, straight, decelerating]))
    assert kept.tolist() == [True, False, False, False, False]


def test_prior_simulations_are_all_physically_expected():
    sims = wm.simulate(500, prior_scale=1.0, seed=1)
    assert sims.params.shape == (500, 2) and sims.observed.shape == (500, 25)
    assert (sims.params > 0).all()  # the rule keeps a > 0 and b > 0 only
    assert wm.physically_expected(wm.curves(sims.params)).all()
    noise = sims.observed - wm.curves(sims.params)
    assert abs(noise.std() - np.sqrt(wm.NOISE_VAR)) < 0.003
    assert sims.drawn > 500  # some were rejected


# ------------------------------------------------------------------ the conditional flow
def test_conditional_flow_log_likelihood_is_exact():
    """log p(x | c) = log N(f(x; c)) + log |det df/dx|, the determinant checked against a numerical Jacobian."""
    torch.manual_seed(0)
    flow = RealNVP(2, n_blocks=4, hidden_units=8, hidden_layers=1, context_dim=3).double()
    for block in flow.blocks:  # leave the identity start so that the check is not trivial
        torch.nn.init.normal_(block.net[-1].weight, std=0.5)
    x = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    c = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: flow(v.reshape(1, 2), c)[0].reshape(2), x.reshape(2))
    z = flow(x, c)[0].detach()
    expected = -0.5 * float((z**2).sum()) - np.log(2 * np.pi) + float(torch.logdet(jac).abs())
    assert float(flow.log_prob(x, c).detach()) == pytest.approx(expected, abs=1e-9)
    assert torch.allclose(flow.inverse(z, c), x, atol=1e-10)
    other = torch.tensor([[1.5, -1.0, 0.0]], dtype=torch.float64)
    assert not torch.allclose(flow(x, other)[0], z)  # the context matters


@pytest.fixture(scope="module")
def posterior():
    sims = wm.simulate(3300, prior_scale=0.3, seed=0)
    config = PosteriorConfig(epochs=40, blocks=6)
    model, info = fit_posterior(
        sims.params[:3000], sims.observed[:3000], sims.params[3000:], sims.observed[3000:], config, seed=0
    )
    return model, info


def test_posterior_median_recovers_known_parameters(posterior):
    model, info = posterior
    assert info["best_valid_nll"] < info["history"][0]["valid_nll"]
    truth = wm.simulate(40, prior_scale=0.3, seed=99)
    errors, within = [], []
    for params, observed in zip(truth.params, truth.observed, strict=True):
        draws = model.sample(observed[:10], 2000, seed=1)  # the paper's 10 observed cuts
        med = np.median(draws, axis=0)
        errors.append(np.abs(med - params))
        within.append(np.abs(med - params) < 2 * draws.std(axis=0))
    errors, within = np.array(errors), np.array(within)
    # the stated tolerance (prior sd 0.3; b sets the level and is well identified, a the curvature, less so):
    # median absolute error under 0.15 for a and 0.04 for b, and the truth within two posterior sd in 85 %
    assert np.median(errors[:, 0]) < 0.15 and np.median(errors[:, 1]) < 0.04, np.median(errors, axis=0)
    assert (within.mean(axis=0) >= 0.85).all(), within.mean(axis=0)
    same = model.sample(truth.observed[0, :10], 100, seed=5)
    assert np.array_equal(same, model.sample(truth.observed[0, :10], 100, seed=5))  # a seed fixes the draws


# ------------------------------------------------------------------ forecasts
def test_remaining_cuts_in_closed_form_match_the_recursion():
    params = np.array([[0.3, 0.1], [0.0, 0.05], [-0.2, 0.05], [0.4, -0.1], [1e-12, 0.1]])
    left = remaining_cuts(params, x0=0.2, k0=9, limit=0.7)
    for (a, b), m in zip(params, left, strict=True):
        x, steps = 0.2, 0
        while x < 0.7 and steps < 2000:  # long enough: a < 0 makes the increments vanish
            x += 0.4 * b * np.exp(0.4 * a * (9 + steps))
            steps += 1
        assert (np.isnan(m) and x < 0.7) or m == steps, (a, b, m, steps)
    assert remaining_cuts(params, x0=0.8, k0=9, limit=0.7).tolist() == [0.0] * 5


def test_forecast_quantiles_and_curves():
    params = np.column_stack([np.full(1000, 0.3), np.linspace(0.05, 0.15, 1000)])
    observed = wm.curves(params[:1], 10)[0]
    result = forecast(params, observed, horizon=5, limit=0.7, seed=0)
    assert result.cuts.tolist() == [10, 11, 12, 13, 14]
    assert (result.q10 <= result.median).all() and (result.median <= result.q90).all()
    assert result.remaining[0] <= result.remaining[1] <= result.remaining[2]


# ------------------------------------------------------------------ MCMC
def test_effective_size_of_independent_and_correlated_chains():
    rng = np.random.default_rng(0)
    white = rng.standard_normal((4000, 8))
    assert integrated_time(white) == pytest.approx(1.0, abs=0.3)
    ar = np.zeros((4000, 8))
    for t in range(1, 4000):  # AR(1) with phi 0.9: tau = (1 + phi) / (1 - phi) = 19
        ar[t] = 0.9 * ar[t - 1] + rng.standard_normal(8)
    assert integrated_time(ar) == pytest.approx(19, rel=0.25)
    assert effective_size(np.stack([white, white], axis=2)) == pytest.approx(32_000, rel=0.3)


def test_metropolis_finds_the_parameters_of_a_simulated_curve():
    truth = np.array([[0.25, 0.08]])
    observed = wm.observe(wm.curves(truth, 12)[0], np.random.default_rng(3))
    chains = metropolis(observed, n_effective=2000, prior_scale=0.3, chains=16, burn=500, seed=0)
    assert chains.ess >= 2000
    med = np.median(chains.draws(), axis=0)
    assert abs(med[0] - 0.25) < 0.1 and abs(med[1] - 0.08) < 0.04
    assert 0.1 < chains.acceptance < 0.6


# ------------------------------------------------------------------ measured curves
def test_curves_from_a_table_interpolate_and_name_problems():
    table = pd.DataFrame(
        {
            "tool": [1, 1, 1, 1, 2, 2, 2, 3],
            "n": [1, 2, 3, 4, 2, 1, 3, 1],
            "vb": [0.0, np.nan, 0.2, 0.3, 0.1, 0.0, 0.4, 0.5],
        }
    )
    with pytest.warns(CurveWarning, match="left out 1 case\\(s\\) .*: 3 \\(1 measured\\)"):
        curves = load_curves(table, "tool", "vb", "n")
    assert np.allclose(curves[1], [0.0, 0.1, 0.2, 0.3])
    assert np.allclose(curves[2], [0.0, 0.1, 0.4])  # ordered by the cut column
    with pytest.raises(DataError, match="tool: no column named 'tool'"):
        load_curves(table.drop(columns=["tool"]), "tool", "vb")
    with pytest.raises(DataError, match="wear: no column named 'wear'.*--wear"):
        load_curves(table, "tool", "wear")
    falling = pd.DataFrame({"case": [1, 1, 1], "VB": [0.5, 0.3, 0.1]})
    with pytest.raises(DataError, match="case=1: wear decreases at every cut"):
        load_curves(falling)
    with pytest.raises(DataError, match="case=1\\[1\\]: wear cannot be negative"):
        load_curves(pd.DataFrame({"case": [1, 1, 1], "VB": [0.0, -0.1, 0.1]}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurveWarning)
        with pytest.raises(DataError, match="case: no case has two or more wear values"):
            load_curves(pd.DataFrame({"case": [1, 2], "VB": [0.1, 0.2]}))


def test_milling_wear_curves_as_the_paper_reads_them():
    path = SHARED / "milling" / "labels_with_tool_class.csv"
    if not path.exists():
        pytest.skip(f"{path} not here (../shared/datasets is not part of a fresh clone)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CurveWarning)
        curves = load_curves(path, "case", "VB", "run")
    assert {k: len(curves[k]) for k in (1, 2, 3, 11, 12, 13)} == {1: 17, 2: 14, 3: 14, 11: 23, 12: 15, 13: 15}
    assert 6 not in curves  # one cut only
    assert np.isfinite(np.concatenate(list(curves.values()))).all()


def test_sequence_checks_and_contract():
    assert check_sequence([0.0, 0.1]).tolist() == [0.0, 0.1]
    for values, message in (
        ([0.1], "at least 2 values"),
        ([0.0, float("nan")], "wear\\[1\\]: NaN"),
        ([0.0, -0.2], "wear\\[1\\]: wear cannot be negative"),
        ([0.0, 12.0], "wear\\[1\\]: 12 mm is above the physical bound"),
    ):
        with pytest.raises(DataError, match=message):
            check_sequence(values)
    schema = SequenceSchema("wear", lower=0.0, upper=3.0, unit="mm")
    assert len(schema.parse_v1({"instances": [0.0, 0.1, 0.2]})) == 1
    both = schema.parse_v1({"instances": [[0.0, 0.1], {"wear": [0.0, 0.1, 0.3]}]})
    assert [len(v) for v in both.values] == [2, 3]
    padded = schema.parse_v2(
        [Tensor("wear", [2, 3], "FP64", [0.0, 0.1, 0.2, 0.0, 0.2, None]), Tensor("length", [2], "INT64", [3, 2])]
    )
    assert [v.tolist() for v in padded.values] == [[0.0, 0.1, 0.2], [0.0, 0.2]]
    for payload, field in (
        ({"instances": [[0.1]]}, "instances[0]"),
        ({"instances": [[0.0, None]]}, "instances[0][1]"),
        ({"instances": [[0.0, -1.0]]}, "instances[0][1]"),
        ({"instances": [[0.0, "0.1"]]}, "instances[0][1]"),
        ({"instances": [{"vb": [0.0, 0.1]}]}, "instances[0]"),
    ):
        with pytest.raises(DataError) as caught:
            schema.parse_v1(payload)
        assert caught.value.field == field, str(caught.value)
    with pytest.raises(DataError, match="inputs\\[1\\].shape: one length per sequence"):
        schema.parse_v2([Tensor("wear", [2, 3], "FP64", [0.0] * 6), Tensor("length", [1], "INT64", [3])])


def test_effective_size_is_emceess_estimator_and_matches_the_hand_written_one():
    """The autocorrelation time now comes from emcee; on AR(1) chains it equals the FFT estimator Shopfloor used
    before (chains' ACFs averaged, summed to Sokal's window c = 5) to float noise, and the theory (1+phi)/(1-phi)
    within the estimator's error."""
    from shopfloor.prognosis.mcmc import integrated_time

    def hand_written(x, c=5.0):
        steps = x.shape[0]
        centred = x - x.mean(axis=0)
        size = 1 << int(np.ceil(np.log2(2 * steps)))
        f = np.fft.rfft(centred, n=size, axis=0)
        acf = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:steps].real
        rho = (acf / acf[0]).mean(axis=1)
        tau = 2.0 * np.cumsum(rho) - 1.0
        window = np.arange(len(tau)) < c * tau
        return float(max(tau[int(np.argmin(window)) if not window.all() else len(tau) - 1], 1.0))

    rng = np.random.default_rng(0)
    phi, steps, chains = 0.8, 4000, 16
    x = np.zeros((steps, chains))
    for t in range(1, steps):
        x[t] = phi * x[t - 1] + rng.standard_normal(chains)
    assert integrated_time(x) == pytest.approx(hand_written(x), rel=1e-9)
    assert integrated_time(x) == pytest.approx((1 + phi) / (1 - phi), rel=0.15)


# ------------------------------------------------------------------ the rival: the tool's own curve fit
def test_the_curve_fit_finds_each_tools_parameters_and_draws_around_them():
    from scipy.optimize import least_squares

    from shopfloor.prognosis.curve_fit import BOUNDS, CurveFit

    sims = wm.simulate(8, 1.0, seed=3)
    fit = CurveFit.with_prior_scale(1.0)
    sigma = np.sqrt(wm.NOISE_VAR)
    for truth, noisy in zip(sims.params, sims.observed, strict=True):
        mode, cov = fit.fit(noisy)
        assert np.all(np.abs(mode - truth) <= 4 * np.sqrt(np.diag(cov)) + 1e-3)  # within its own uncertainty
        # the analytic Jacobian leads where finite differences do

        def residual(theta, y=noisy):
            return np.concatenate([(wm.curves(theta[None, :], len(y))[0] - y) / sigma, theta])

        numeric = least_squares(residual, np.clip(np.zeros(2), np.add(BOUNDS[0], 1e-6), 5), bounds=BOUNDS).x
        assert np.allclose(mode, numeric, atol=1e-4)
    draws = fit.sample(sims.observed[0][:10], 4000, seed=1)
    assert np.array_equal(draws, fit.sample(sims.observed[0][:10], 4000, seed=1))  # same seed, same answer
    assert np.allclose(draws.mean(axis=0), fit.fit(sims.observed[0][:10])[0], atol=0.05)


def test_the_rival_is_chosen_only_when_it_forecasts_validation_tools_better():
    from shopfloor.prognosis.workflow import chosen_method

    table = pd.DataFrame({"method": ["flow", "curve-fit"], "valid_rmse": [0.20, 0.15], "test_rmse": [0.1, 0.9]})
    assert chosen_method(table) == "curve-fit"  # by validation; the test split plays no part
    assert chosen_method(table.assign(valid_rmse=[0.15, 0.15])) == "flow"  # a tie keeps the published method
    assert chosen_method(table.drop(columns="valid_rmse")) == "flow"


def test_a_curve_fit_champion_retrains_by_moving_its_prior():
    from shopfloor.prognosis.curve_fit import CurveFit
    from shopfloor.prognosis.pyfunc import PrognosisPyfunc
    from shopfloor.prognosis.retrain import PrognosisRetrainer

    champion = PrognosisPyfunc(CurveFit.with_prior_scale(1.0), horizon=5, draws=500)
    table = wm.wear_table(cases=6, seed=4)
    retrainer = PrognosisRetrainer()
    adapt = table[table["case"] <= table["case"].unique()[3]]
    challenger, how = retrainer.challenger(champion, adapt, reference=None, seed=0, settings={})
    assert isinstance(challenger.posterior, CurveFit) and how["curves"] == 4
    assert challenger.posterior.config.prior_mean != champion.posterior.config.prior_mean
    scores = retrainer.score(challenger, table[~table.index.isin(adapt.index)])
    assert np.isfinite(list(scores.values())).all()
