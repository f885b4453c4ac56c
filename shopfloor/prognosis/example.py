"""Prognosis's example for the docs: a small conditional flow fitted on 3,000 simulated wear curves, asked about a
tool's wear after its first eight cuts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shopfloor.examples import Example


def example(folder: Path) -> Example:
    from shopfloor.prognosis import wear_model
    from shopfloor.prognosis.posterior import PosteriorConfig, fit_posterior
    from shopfloor.prognosis.pyfunc import PrognosisPyfunc

    sims = wear_model.simulate(3000, 1.0, seed=0)
    config = PosteriorConfig(context=16, blocks=4, hidden=16, gru_layers=1, epochs=60)
    train, valid = slice(0, 2500), slice(2500, None)
    posterior, _ = fit_posterior(
        sims.params[train], sims.observed[train], sims.params[valid], sims.observed[valid], config
    )
    model = PrognosisPyfunc(posterior, horizon=5, draws=500, prior_scale=1.0)
    tool = wear_model.wear_table(cases=1, seed=5)["VB"].round(3).tolist()[:8]
    return Example(model, pd.DataFrame({"wear": [[0.0, 0.05, 0.08]]}), [tool], "neg_test_rmse")
