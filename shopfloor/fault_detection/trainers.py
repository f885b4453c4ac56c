"""Two ways to (re)train a ``ResNet``: backpropagation with Adam and the ensemble Kalman filter.

Both stop when the RMS error of Eq. 17 on the training data falls below ``tol`` (or at an iteration
limit), so their times compare like for like. The error is whatever ``error_fn`` says of the network's
output on the training inputs; the estimators pass Eq. 17 in the units users read (relative error for
cutting forces).

EnKF (Eqs. 18-20): J particles u_j ~ N(u, sigma_c I) around the current weights; each iteration draws
a mini-batch of observations (Rom et al. draw one), runs every particle on it in one batched forward,
and moves each particle by du_j = C(u) Gamma*_n (y - G(x, u_j)), where C is the cross-covariance of
weights and outputs and Gamma*_n = gamma(n) grows with the iteration n (Rom et al.: Gamma* = n),
capped by ``gamma_max`` so that its norm stays bounded. No derivative is taken. The result is the
ensemble mean.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from shopfloor.fault_detection.resnet import ResNet
from shopfloor.progress import bar

ErrorFn = Callable[[torch.Tensor], float]


def rms_error(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Eq. 17, one value per output column: sqrt(sum_i (y_ij - x_ij)^2 / (2N))."""
    y, pred = np.asarray(y, float).reshape(len(y), -1), np.asarray(pred, float).reshape(len(y), -1)
    return np.sqrt(((y - pred) ** 2).sum(axis=0) / (2 * len(y)))


def default_error(Y: torch.Tensor) -> ErrorFn:
    """Eq. 17 on the network's own output scale, averaged over outputs."""
    return lambda pred: float(rms_error(Y.numpy(), pred.detach().numpy()).mean())


@dataclass
class TrainResult:
    method: str
    seconds: float
    iterations: int
    error: float  # the training error at the stop
    converged: bool  # error below tol (False: stopped at the iteration limit)


@dataclass
class BackpropTrainer:
    """Full-batch Adam on the half mean square error (Eq. 3) or, for classifiers, the logistic loss."""

    lr: float = 0.01
    tol: float = 0.03
    max_epochs: int = 5000
    loss: str = "mse"  # "mse" or "bce" (outputs are logits)
    pos_weight: float = 1.0  # bce only: weight of the positive class
    progress: bool = False

    def fit(self, model: ResNet, X: torch.Tensor, Y: torch.Tensor, error_fn: ErrorFn | None = None) -> TrainResult:
        error_fn = error_fn or default_error(Y)
        optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
        weight = torch.tensor(self.pos_weight)
        start, error, epochs = time.perf_counter(), float("inf"), 0
        epochs_bar = bar(range(1, self.max_epochs + 1), desc="backprop", unit="epoch", enabled=self.progress)
        for epochs in epochs_bar:  # noqa: B007 (the count is reported)
            out = model(X)
            error = error_fn(out)
            if error < self.tol:
                break
            if self.loss == "bce":
                loss = torch.nn.functional.binary_cross_entropy_with_logits(out, Y, pos_weight=weight)
            else:
                loss = 0.5 * ((out - Y) ** 2).sum(dim=1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            epochs_bar.set_postfix_str(f"error {error:.4f}")
        epochs_bar.close()
        return TrainResult("backprop", time.perf_counter() - start, epochs, error, error < self.tol)


@dataclass
class EnKFTrainer:
    """Derivative-free (re)training by the ensemble Kalman filter, vectorised over the ensemble."""

    n_particles: int = 100
    sigma_c: float = 0.01  # covariance of the initial ensemble (standard deviation sqrt(sigma_c))
    gamma: Callable[[int], float] = float  # Gamma*_n as a function of the iteration n (paper: n)
    gamma_max: float = 1e3
    regularised: bool = True  # Gamma* = (D(u) + I / gamma(n))^-1 (bounded); False: Rom et al.'s gamma(n) I
    batch_size: int = 1  # observations per iteration (Rom et al.: one)
    tol: float = 0.03
    max_iter: int = 20000
    check_every: int = 2  # how often the ensemble mean's training error is computed
    link: str = "identity"  # "sigmoid": particles are compared with targets through a sigmoid (classifiers)
    balanced: bool = False  # draw half of each batch from each class (0/1 targets)
    part: str = "all"  # which weights the filter moves: all, head or output (see ResNet.mask)
    seed: int = 0
    progress: bool = False

    def _batches(self, Y: torch.Tensor, g: torch.Generator):
        n = len(Y)
        if not self.balanced:
            while True:
                yield torch.randint(n, (self.batch_size,), generator=g)
        pools = [torch.nonzero(Y[:, 0] == k).flatten() for k in (0, 1)]
        half = max(1, self.batch_size // 2)
        while True:
            yield torch.cat([p[torch.randint(len(p), (half,), generator=g)] for p in pools])

    def fit(self, model: ResNet, X: torch.Tensor, Y: torch.Tensor, error_fn: ErrorFn | None = None) -> TrainResult:
        error_fn = error_fn or default_error(Y)
        g = torch.Generator().manual_seed(self.seed)
        link = torch.sigmoid if self.link == "sigmoid" else (lambda t: t)
        start = time.perf_counter()
        best = model.get_flat()
        noise = self.sigma_c**0.5 * torch.randn(self.n_particles, best.numel(), generator=g, dtype=best.dtype)
        # Weights outside ``part`` get no spread, hence no covariance with the outputs, and never move.
        U = best + noise * model.mask(self.part)
        batches = self._batches(Y, g)
        error, n = error_fn(model(X).detach()), 0
        steps = bar(total=self.max_iter, desc="EnKF", unit="step", enabled=self.progress)
        with torch.no_grad():
            while error >= self.tol and n < self.max_iter:
                n += 1
                index = next(batches)
                G = link(model.ensemble_forward(X[index], U)).reshape(self.n_particles, -1)  # (J, k)
                residual = Y[index].reshape(1, -1) - G
                dG = G - G.mean(0)
                C = (U - U.mean(0)).T @ dG / self.n_particles  # Eq. 18, (d, k)
                gamma = min(self.gamma(n), self.gamma_max)
                if self.regularised:  # (D + I / gamma)^-1 residual, D the outputs' covariance
                    D = dG.T @ dG / self.n_particles + torch.eye(dG.shape[1]) / gamma
                    residual = torch.linalg.solve(D, residual.T).T
                else:
                    residual = gamma * residual
                U += residual @ C.T  # Eq. 20, every particle at once
                if n % self.check_every == 0 or n == self.max_iter:
                    model.set_flat(U.mean(0))
                    current = error_fn(model(X))
                    if not np.isfinite(current):  # diverged: keep the last finite mean
                        model.set_flat(best)
                        break
                    best, error = U.mean(0), current
                    steps.update(self.check_every)
                    steps.set_postfix_str(f"error {error:.4f}")
        steps.close()
        return TrainResult("enkf", time.perf_counter() - start, n, error, error < self.tol)
