"""The baseline Russell and Wang name: Markov chain Monte Carlo for the same posterior p(a, b | observed wear).

Random-walk Metropolis with many chains advanced together (one numpy step moves all of them): Gaussian
proposals adapted during burn-in (a scale per chain towards 30 % acceptance, then the draws' covariance,
see ``metropolis``); the target is the
prior the flow learns (N(0, scale^2 I) restricted to physically expected curves) times the Gaussian
measurement likelihood of the observed values. After burn-in the chains run until the effective sample
size of both parameters reaches the asked number; the effective size comes from the integrated
autocorrelation time, the chains' autocorrelation functions averaged and summed up to Sokal's automatic
window (c = 5), by emcee's estimator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from shopfloor.prognosis.wear_model import NOISE_VAR, log_likelihood, log_prior, simulate

TARGET_ACCEPTANCE = 0.3


@dataclass
class Chains:
    samples: np.ndarray  # (draws after burn-in, chains, 2)
    ess: float  # the smaller of the two parameters' effective sample sizes
    seconds: float
    acceptance: float
    steps: int

    def draws(self, n: int | None = None, seed: int = 0) -> np.ndarray:
        """All draws (or ``n`` of them at random) as (n, 2)."""
        flat = self.samples.reshape(-1, 2)
        if n is None or n >= len(flat):
            return flat
        return flat[np.random.default_rng(seed).choice(len(flat), n, replace=False)]


def integrated_time(x: np.ndarray, c: float = 5.0) -> float:
    """Integrated autocorrelation time of ``x`` (steps, chains): emcee's estimator (the chains' autocorrelation
    functions averaged, summed up to Sokal's automatic window), at least 1."""
    from emcee.autocorr import integrated_time as emcee_time

    return float(max(emcee_time(np.asarray(x, dtype=float)[:, :, None], c=c, tol=0, quiet=True)[0], 1.0))


def effective_size(samples: np.ndarray) -> float:
    """min over parameters of chains * steps / tau."""
    steps, chains, _ = samples.shape
    return min(chains * steps / integrated_time(samples[:, :, p]) for p in range(samples.shape[2]))


def metropolis(
    observed: np.ndarray,
    n_effective: int = 10_000,
    prior_scale: float = 1.0,
    noise_var: float = NOISE_VAR,
    chains: int = 32,
    burn: int = 2000,
    check_every: int = 500,
    max_steps: int = 200_000,
    seed: int = 0,
) -> Chains:
    """Sample until ``n_effective`` effective draws (or ``max_steps`` steps per chain).

    Burn-in in two halves: first each chain adapts a scalar step towards 30 % acceptance; then the
    proposal becomes N(0, 2.38^2 / 2 * Sigma) with Sigma the covariance of the first half's draws over all
    chains (adaptive Metropolis, Haario et al.), so steps follow the strong correlation of a and b.
    """
    observed = np.asarray(observed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()

    def target(params: np.ndarray) -> np.ndarray:
        lp = log_prior(params, prior_scale)
        ok = np.isfinite(lp)
        out = np.full(len(params), -np.inf)
        if ok.any():
            out[ok] = lp[ok] + log_likelihood(params[ok], observed, noise_var)
        return out

    current = simulate(chains, prior_scale, noise_var, seed=seed).params
    current_lp = target(current)
    scale = np.full(chains, 0.05)
    accepted_window = np.zeros(chains)
    half = burn // 2
    warm: list[np.ndarray] = []
    factor = None
    kept = np.empty((max_steps, chains, 2))
    n_kept, accepted, steps, next_check = 0, 0, 0, check_every
    while True:
        noise = rng.standard_normal(current.shape)
        step = noise @ factor.T if factor is not None else scale[:, None] * noise
        proposal = current + step
        proposal_lp = target(proposal)
        accept = np.log(rng.random(chains)) < proposal_lp - current_lp
        current = np.where(accept[:, None], proposal, current)
        current_lp = np.where(accept, proposal_lp, current_lp)
        steps += 1
        if steps <= burn:
            if steps <= half:
                accepted_window += accept
                if steps % 50 == 0:  # adapt each chain's step towards the target acceptance
                    scale *= np.exp((accepted_window / 50 - TARGET_ACCEPTANCE) * 2.0)
                    accepted_window[:] = 0
                if steps > half // 2:
                    warm.append(current.copy())
            if steps == half:
                cov = np.cov(np.concatenate(warm).T) + 1e-10 * np.eye(2)
                factor = np.linalg.cholesky(2.38**2 / 2 * cov)
            continue
        accepted += int(accept.sum())
        kept[n_kept] = current
        n_kept += 1
        if n_kept >= next_check or steps >= max_steps:
            samples = kept[:n_kept]
            ess = effective_size(samples)
            if ess >= n_effective or steps >= max_steps:
                return Chains(samples.copy(), ess, time.perf_counter() - started, accepted / (n_kept * chains), steps)
            # aim the next check at the expected size (autocorrelation times settle as chains grow)
            next_check = n_kept + max(check_every, int(n_kept * (n_effective / max(ess, 1.0) - 1.0) * 0.5))
