"""RealNVP: exact inverse, log-determinant against a numerical Jacobian, soft-clamped scale, likelihood filter."""

import numpy as np
import pandas as pd
import pytest
import torch

from shopfloor.synth.filter import likelihood_filter
from shopfloor.synth.flow import AffineCoupling, FlowSynthesizer, RealNVP


def _random_flow(dim=4, seed=0):
    torch.manual_seed(seed)
    flow = RealNVP(dim, n_blocks=4, hidden_units=16, hidden_layers=2).double()
    for block in flow.blocks:  # leave the identity start: random last layers
        torch.nn.init.normal_(block.net[-1].weight, std=0.5)
        torch.nn.init.normal_(block.net[-1].bias, std=0.5)
    return flow


def test_inverse_of_forward_within_1e4():
    flow = _random_flow().float()
    x = torch.randn(256, 4)
    z, _ = flow(x)
    assert torch.max(torch.abs(flow.inverse(z) - x)) < 1e-4


def test_log_determinant_matches_numerical_jacobian():
    flow = _random_flow(dim=3)
    x = torch.randn(5, 3, dtype=torch.float64)
    _, logdet = flow(x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v.unsqueeze(0))[0].squeeze(0), x[i])
        assert logdet[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-8)


def test_scale_is_soft_clamped_by_tanh_alpha():
    block = AffineCoupling(torch.tensor([1.0, 0.0]), hidden_units=8, hidden_layers=1, alpha=1.5)
    torch.nn.init.constant_(block.net[-1].weight, 100.0)  # huge raw scales
    s, _ = block._scale_shift(torch.tensor([[3.0, 0.0]]))
    assert torch.all(s.abs() <= 1.5 + 1e-6) and s[0, 0] == 0  # kept features are not scaled
    assert block.log_alpha.requires_grad


def test_log_prob_is_a_density_in_table_units():
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"a": rng.normal(10, 2, 400), "b": rng.normal(-3, 0.5, 400)})
    flow = FlowSynthesizer(seed=0, progress=False, steps=360, n_blocks=4).fit(table)
    # for independent normals the exact log-density is known; the flow should come close on average
    exact = (
        -0.5 * ((table.a - 10) / 2) ** 2
        - np.log(2 * np.sqrt(2 * np.pi))
        - 0.5 * ((table.b + 3) / 0.5) ** 2
        - np.log(0.5 * np.sqrt(2 * np.pi))
    )
    assert abs(flow.log_prob(table).mean() - exact.mean()) < 0.15
    far = pd.DataFrame({"a": [30.0], "b": [5.0]})
    assert flow.log_prob(far)[0] < np.quantile(flow.log_prob(table), 0.01)


def test_likelihood_filter_drops_implausible_rows():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 300)
    real = pd.DataFrame({"a": a, "b": a + rng.normal(0, 0.1, 300)})
    plausible = pd.DataFrame({"a": [0.0, 0.5, -0.5], "b": [0.0, 0.5, -0.5]})
    broken = pd.DataFrame({"a": [1.0, -1.0], "b": [-1.0, 1.0]})  # marginals fine, correlation broken
    res = likelihood_filter(pd.concat([plausible, broken], ignore_index=True), real, quantile=0.05, steps=400)
    assert list(res.kept_index) == [0, 1, 2]
    assert res.log_density[3] < res.threshold and res.log_density[4] < res.threshold
