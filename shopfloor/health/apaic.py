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
from sklearn.linear_model import Ridge


def project_ideal(h: np.ndarray, t_d: int, t_f: int | None) -> np.ndarray:
    """Project a HI onto the ideal set: ``<= 0`` over the first ``t_d`` steps, ``>= 1`` over the last
    ``t_f`` steps (``None`` for a running trajectory), then non-decreasing (PAVA)."""
    z = np.asarray(h, dtype=float).copy()
    z[:t_d] = np.minimum(z[:t_d], 0.0)
    if t_f:
        z[len(z) - t_f:] = np.maximum(z[len(z) - t_f:], 1.0)
    return isotonic_regression(z, increasing=True)


class APAIC:
    """Fit fusion weights on run-to-failure trajectories; ``transform`` gives the HI of any rows."""

    def __init__(self, t_d: int, t_f: int, beta: float = 0.05, max_iter: int = 200, tol: float = 1e-6) -> None:
        if t_d < 1 or t_f < 1:
            raise ValueError("t_d and t_f must be positive")
        self.t_d, self.t_f, self.beta, self.max_iter, self.tol = t_d, t_f, beta, max_iter, tol

    def fit(self, trajectories: Sequence[np.ndarray], running: Sequence[np.ndarray] = ()) -> "APAIC":
        """``trajectories``: (T_k, F) feature arrays of run-to-failure units, in time order; ``running``:
        units still in service (projected onto ``E_I^Test``), as in Eq. 9."""
        units = [np.asarray(y, dtype=float) for y in trajectories]
        live = [np.asarray(y, dtype=float) for y in running]
        for k, y in enumerate(units):
            if len(y) < self.t_d + self.t_f:
                raise ValueError(f"trajectory {k} has {len(y)} steps, fewer than t_d + t_f = {self.t_d + self.t_f}")
        stacked = np.vstack(units + live)
        # Alg. 1 starts from w = 1: the sum of the features, shifted so that each unit starts at 0.
        z = [self._project(y.sum(axis=1) - y[0].sum(), final=True) for y in units]
        z += [self._project(y.sum(axis=1) - y[0].sum(), final=False) for y in live]
        self.model = Ridge(alpha=self.beta)
        self.n_iter_ = 0
        for iteration in range(1, self.max_iter + 1):
            self.n_iter_ = iteration
            self.model.fit(stacked, np.concatenate(z))
            new = [self._project(self.model.predict(y), final=True) for y in units]
            new += [self._project(self.model.predict(y), final=False) for y in live]
            change = sum(float(np.sum((a - b) ** 2)) for a, b in zip(new, z, strict=True))
            z = new
            if change < self.tol * max(1.0, sum(float(np.sum(v ** 2)) for v in z)):
                break
        self.ideal_ = z
        return self

    def _project(self, h: np.ndarray, final: bool) -> np.ndarray:
        return project_ideal(h, self.t_d, self.t_f if final else None)

    def transform(self, y: np.ndarray) -> np.ndarray:
        """The fused HI of each row (``Y w + b``)."""
        return self.model.predict(np.asarray(y, dtype=float))


class RealTimeAPAIC:
    """RA2DS: while a unit runs, refit APAIC every ``delta_t`` steps with the training trajectories and
    the unit's history so far (its ideal set without the failure bound), and score new steps with the
    latest fusion."""

    def __init__(self, t_d: int, t_f: int, delta_t: int = 10, beta: float = 0.05) -> None:
        self.t_d, self.t_f, self.delta_t, self.beta = t_d, t_f, delta_t, beta

    def run(self, trajectories: Sequence[np.ndarray], unit: np.ndarray) -> np.ndarray:
        """The HI of ``unit`` step by step, as it would have been computed online."""
        unit = np.asarray(unit, dtype=float)
        hi = np.empty(len(unit))
        fusion = APAIC(self.t_d, self.t_f, self.beta).fit(trajectories)
        for start in range(0, len(unit), self.delta_t):
            if start >= self.t_d + 1:
                fusion = APAIC(self.t_d, self.t_f, self.beta).fit(trajectories, running=[unit[:start]])
            hi[start:start + self.delta_t] = fusion.transform(unit[start:start + self.delta_t])
        return hi
