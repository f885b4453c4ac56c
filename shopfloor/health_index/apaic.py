"""APAIC: feature fusion by alternating projection with an isotonic constraint (Frusque et al., Alg. 1).

For each trajectory the ideal health indices form the set
``E_I = {z : z_t <= 0 for t <= T_d, z_t >= 1 for t >= T_f, z non-decreasing}``; a running (test)
trajectory, whose failure time is unknown, uses ``E_I^Test`` without the ``z_t >= 1`` part. APAIC
alternates:

1. ridge regression of the ideal HIs on the features, all trajectories stacked (Eq. 7, ``beta``);
2. projection of each trajectory's fused HI ``h = Y w`` onto its ideal set (Eq. 8): clip the first
   ``T_d`` steps at 0 and the last ``T_f`` at 1, then pool adjacent violators (scikit-learn's
   isotonic regression) for monotonicity;

until the ideal HIs stop moving. The multi-trajectory form is Eq. 9. ``RealTimeAPAIC`` refits the
fusion every ``delta_t`` steps of a running trajectory with its history so far (RA2DS).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.isotonic import isotonic_regression

# scikit-learn's PAVA without its per-call parameter validation (half the cost of a call, and APAIC
# calls it once per unit per iteration); the inputs here are always 1-D float arrays.
_pava = getattr(isotonic_regression, "__wrapped__", isotonic_regression)


def project_ideal(h: np.ndarray, t_d: int, t_f: int | None) -> np.ndarray:
    """Project a HI onto the ideal set: ``<= 0`` over the first ``t_d`` steps, ``>= 1`` over the last
    ``t_f`` steps (``None`` for a running trajectory), then non-decreasing (PAVA)."""
    z = np.asarray(h, dtype=float).copy()
    z[:t_d] = np.minimum(z[:t_d], 0.0)
    if t_f:
        z[len(z) - t_f :] = np.maximum(z[len(z) - t_f :], 1.0)
    return _pava(z, increasing=True)


class APAIC:
    """Fit fusion weights on run-to-failure trajectories; ``transform`` gives the HI of any rows.

    ``t_d`` and ``t_f`` are the healthy and failed step counts of every trajectory, or per trajectory
    through ``fit``'s ``limits``, when they are shares of each unit's own life.
    """

    def __init__(self, t_d: int, t_f: int, beta: float = 0.05, max_iter: int = 500, tol: float = 1e-6) -> None:
        if t_d < 1 or t_f < 1:
            raise ValueError("t_d and t_f must be positive")
        self.t_d, self.t_f, self.beta, self.max_iter, self.tol = t_d, t_f, beta, max_iter, tol

    def fit(
        self,
        trajectories: Sequence[np.ndarray],
        running: Sequence[np.ndarray] = (),
        init: Sequence[np.ndarray] | None = None,
        limits: Sequence[tuple[int, int]] | None = None,
    ) -> APAIC:
        """``trajectories``: (T_k, F) feature arrays of run-to-failure units, in time order; ``running``:
        units still in service (projected onto ``E_I^Test``), as in Eq. 9. ``init``: ideal HIs of the
        run-to-failure units to start from (a warm start, e.g. the previous fit's ``ideal_``);
        ``limits``: (t_d, t_f) of each trajectory (default: the model's)."""
        units = [np.asarray(y, dtype=float) for y in trajectories]
        live = [np.asarray(y, dtype=float) for y in running]
        limits = list(limits) if limits is not None else [(self.t_d, self.t_f)] * len(units)
        for k, (y, (t_d, t_f)) in enumerate(zip(units, limits, strict=True)):
            if len(y) < t_d + t_f:
                raise ValueError(f"trajectory {k} has {len(y)} steps, fewer than t_d + t_f = {t_d + t_f}")
        self._limits = limits + [(self.t_d, None)] * len(live)
        stacked = np.vstack(units + live)
        bounds = np.cumsum([0] + [len(y) for y in units + live])
        # Ridge with an unpenalized intercept, as scikit-learn's Ridge: the design matrix never changes,
        # so its regularized normal equations are solved once and each iteration is a product.
        self.x_mean_ = stacked.mean(axis=0)
        centred = stacked - self.x_mean_
        solve = np.linalg.solve(centred.T @ centred + self.beta * np.eye(stacked.shape[1]), centred.T)
        # Alg. 1 starts from w = 1: the sum of the features, shifted so that each unit starts at 0.
        if init is not None:
            z = [np.asarray(v, dtype=float) for v in init]
        else:
            z = [self._project(y.sum(axis=1) - y[0].sum(), k) for k, y in enumerate(units)]
        z += [self._project(y.sum(axis=1) - y[0].sum(), len(units) + k) for k, y in enumerate(live)]
        self.n_iter_ = 0
        for iteration in range(1, self.max_iter + 1):
            self.n_iter_ = iteration
            target = np.concatenate(z)
            self.coef_ = solve @ (target - target.mean())
            self.intercept_ = float(target.mean() - self.x_mean_ @ self.coef_)
            h = stacked @ self.coef_ + self.intercept_
            new = [self._project(h[bounds[k] : bounds[k + 1]], k) for k in range(len(bounds) - 1)]
            change = sum(float(np.sum((a - b) ** 2)) for a, b in zip(new, z, strict=True))
            z = new
            if change < self.tol * max(1.0, sum(float(np.sum(v**2)) for v in z)):
                break
        self.ideal_ = z
        return self

    def _project(self, h: np.ndarray, k: int) -> np.ndarray:
        t_d, t_f = self._limits[k]
        return project_ideal(h, t_d, t_f)

    def transform(self, y: np.ndarray) -> np.ndarray:
        """The fused HI of each row (``Y w + b``)."""
        return np.asarray(y, dtype=float) @ self.coef_ + self.intercept_


class RealTimeAPAIC:
    """RA2DS: while a unit runs, refit APAIC every ``delta_t`` steps with the training trajectories and
    the unit's history so far (its ideal set without the failure bound), and score new steps with the
    latest fusion."""

    def __init__(self, t_d: int, t_f: int, delta_t: int = 10, beta: float = 0.05, base: APAIC | None = None) -> None:
        """``base``: an APAIC already fitted on the same training trajectories (fitted here if None)."""
        self.t_d, self.t_f, self.delta_t, self.beta, self.base = t_d, t_f, delta_t, beta, base

    def run(
        self, trajectories: Sequence[np.ndarray], unit: np.ndarray, limits: Sequence[tuple[int, int]] | None = None
    ) -> np.ndarray:
        """The HI of ``unit`` step by step, as it would have been computed online."""
        unit = np.asarray(unit, dtype=float)
        hi = np.empty(len(unit))
        base = (
            self.base
            if self.base is not None
            else APAIC(self.t_d, self.t_f, self.beta).fit(trajectories, limits=limits)
        )
        fusion = base
        for start in range(0, len(unit), self.delta_t):
            if start >= self.t_d + 1:  # warm start: the training units' ideal HIs barely move between refits
                fusion = APAIC(self.t_d, self.t_f, self.beta).fit(
                    trajectories, running=[unit[:start]], init=base.ideal_[: len(trajectories)], limits=limits
                )
            hi[start : start + self.delta_t] = fusion.transform(unit[start : start + self.delta_t])
        return hi
