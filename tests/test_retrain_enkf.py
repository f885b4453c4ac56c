"""ResNet (Eq. 1), Eq. 17, and the EnKF / backprop trainers on problems with known answers."""

import copy

import numpy as np
import pytest
import torch

from shopfloor.data.simulate import simulate_cutting_force
from shopfloor.fault_detection.estimators import ResNetRegressor
from shopfloor.fault_detection.resnet import ResNet
from shopfloor.fault_detection.trainers import BackpropTrainer, EnKFTrainer, rms_error

COLUMNS = ["h_mm", "rake_deg", "speed_m_min"]


def test_forward_is_equation_one_and_ensemble_forward_matches():
    net = ResNet(3, 2, width=4, layers=3, seed=1)
    x = torch.randn(5, 3)
    z = x @ net.A + net.a
    for layer in range(3):
        z = z + torch.tanh(z @ net.W[layer] + net.b[layer])
    assert torch.allclose(net(x), z @ net.B + net.c)
    U = torch.stack([net.get_flat(), net.get_flat() + 0.1])
    batched = net.ensemble_forward(x, U)
    assert torch.allclose(batched[0], net(x), atol=1e-6)
    other = copy.deepcopy(net)
    other.set_flat(U[1])
    assert torch.allclose(batched[1], other(x), atol=1e-6)


def test_head_mask_covers_last_block_and_output_map():
    net = ResNet(3, 1, width=4, layers=3)
    head = net.mask("head")
    assert int(head.sum()) == 4 * 4 + 4 + 4 * 1 + 1
    assert int(net.mask("output").sum()) == 5 and bool(net.mask("all").all())
    assert not head[: 3 * 4 + 4].any()  # the input map is not part of the head


def test_rms_error_is_equation_17():
    y, pred = np.array([[1.0], [2.0], [4.0]]), np.array([[1.0], [1.0], [2.0]])
    assert rms_error(y, pred)[0] == pytest.approx(np.sqrt((0 + 1 + 4) / 6))


def test_enkf_recovers_the_weights_of_a_linear_model():
    """With L = 0 the network is linear (y = x A B + a B + c); the EnKF must fit a known map without a
    derivative: the ensemble mean's predictions converge to the true ones."""
    torch.manual_seed(0)
    true_w, true_b = torch.tensor([[1.5], [-2.0], [0.5]]), 0.3
    x = torch.randn(200, 3)
    y = x @ true_w + true_b
    net = ResNet(3, 1, width=3, layers=0, seed=0)
    start = float(rms_error(y.numpy(), net(x).detach().numpy())[0])
    result = EnKFTrainer(n_particles=100, sigma_c=0.1, batch_size=50, tol=1e-3, max_iter=3000, seed=0).fit(net, x, y)
    assert result.converged and result.error < 1e-3 < start
    w = net.A.detach() @ net.B.detach()  # the effective linear weights
    bias = float(net.a.detach() @ net.B.detach() + net.c.detach())
    assert torch.allclose(w, true_w, atol=0.01) and bias == pytest.approx(true_b, abs=0.01)


@pytest.fixture(scope="module")
def trained():
    a = simulate_cutting_force(91, "C35", seed=1)
    return ResNetRegressor(width=3, seed=0).fit(a[COLUMNS].iloc[:51], a["kc_N_mm2"].iloc[:51])


def test_enkf_warm_start_lowers_the_error_on_shifted_data(trained):
    b = simulate_cutting_force(91, "16MnCr5", seed=2)
    train, test = b.iloc[:51], b.iloc[51:]
    before = trained.relative_rms(test[COLUMNS], test["kc_N_mm2"])
    model = copy.deepcopy(trained)
    result = model.retrain(
        train[COLUMNS], train["kc_N_mm2"], method="enkf", n_particles=100, sigma_c=0.01, batch_size=8, seed=0
    )
    after = model.relative_rms(test[COLUMNS], test["kc_N_mm2"])
    assert before > 0.1  # a different material: the old network is off by more than 10 %
    assert result.converged and after < 0.06 < before
    # The scaling of the first fit is kept: only the weights moved.
    assert np.array_equal(model.x_mean_, trained.x_mean_) and np.array_equal(model.y_mean_, trained.y_mean_)


def test_backprop_stops_at_the_tolerance(trained):
    b = simulate_cutting_force(91, "16MnCr5", seed=2)
    model = copy.deepcopy(trained)
    result = model.retrain(b[COLUMNS].iloc[:51], b["kc_N_mm2"].iloc[:51], method="backprop")
    assert result.converged and result.error < 0.03
    assert model.relative_rms(b[COLUMNS].iloc[:51], b["kc_N_mm2"].iloc[:51]) == pytest.approx(result.error, rel=1e-4)


def test_backprop_trainer_gives_up_at_the_epoch_limit():
    net = ResNet(1, 1, width=2, layers=1)
    x, y = torch.linspace(-1, 1, 20)[:, None], torch.sign(torch.linspace(-1, 1, 20))[:, None] * 5
    result = BackpropTrainer(tol=1e-9, max_epochs=7).fit(net, x, y)
    assert result.iterations == 7 and not result.converged


def test_retrain_needs_a_fitted_model_and_a_known_method(trained):
    with pytest.raises(RuntimeError, match="fit"):
        ResNetRegressor().retrain([[1, 2, 3]], [1.0])
    with pytest.raises(ValueError, match="method"):
        copy.deepcopy(trained).retrain([[0.1, 0, 100]], [2000.0], method="sgd")
