"""Tool-wear prognosis by amortized Bayesian inference (Russell & Wang, §3.2 and §5).

``model``: the stepwise exponential wear model (Eq. 20), its prior and the rejection rule that keeps
physically expected curves. ``posterior``: a GRU summary of the observed wear and a conditional RealNVP
(the project's coupling blocks with a context input) over the model's parameters (a, b), trained on
simulations. ``forecast``: posterior samples pushed through Eq. 20: median and quantile curves, the
remaining cuts to a wear limit. ``curves``: wear curves from the milling labels or a user's table.
``mcmc``: a random-walk Metropolis sampler of the same posterior, the baseline Russell and Wang name.
"""
