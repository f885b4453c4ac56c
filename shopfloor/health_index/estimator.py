"""The health-index model: unit features, a (2)DS encoder and APAIC fusion in one object.

Fitted on run-to-failure trajectories where only the ends are known (the first ``t_d`` steps of each
unit healthy, the last ``t_f`` failed, the middle unlabelled; either may be a share of each unit's life),
it maps a unit's rows to a HI that starts near 0 and ends near 1. ``encoder=None`` fuses the features
directly ("APAIC on raw features"); ``diversity=0`` gives ADS, ``diversity>0`` A2DS; ``fusion="both"``
fuses ``[features | embedding]``. ``seeds > 1`` averages the HIs of encoders and fusions trained from
different seeds. Scoring is causal (``shopfloor.health_index.prepare``): the HI of a unit's row never depends
on its later rows.

Defaults are Frusque et al.'s (§III-D, appendix A): embedding 16, three bias-free layers, lambda 0.001,
1000 epochs at 5e-4, weight decay 1, the unlabelled DeepSAD term weighted 0.1. ``weight_decay="auto"``
is Frusque et al.'s procedure: start at 1 and raise it tenfold until two encoders trained from different
seeds agree (their anomaly scores on the training rows correlate at least ``WD_AGREEMENT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from shopfloor.health_index.apaic import APAIC
from shopfloor.health_index.deepsad import FAILED, HEALTHY, UNLABELLED, DeepSAD
from shopfloor.health_index.prepare import UnitFeatures, life_steps

WD_AGREEMENT = 0.9
WD_STEPS = (1.0, 10.0, 100.0, 1000.0)


def end_labels(length: int, t_d: int, t_f: int | None) -> np.ndarray:
    """+1 for the first ``t_d`` steps, -1 for the last ``t_f`` (none for a running unit), 0 between."""
    labels = np.full(length, UNLABELLED)
    if t_f:
        labels[length - t_f :] = FAILED
    labels[:t_d] = HEALTHY
    return labels


@dataclass
class HIConfig:
    t_d: float = 30  # healthy steps, or a share of each unit's life when below 1
    t_f: float = 30  # failed steps, likewise
    encoder: str | None = "deepsad"
    diversity: float = 0.001  # lambda of the 2DS loss (0: plain DeepSAD)
    fusion: str = "embedding"  # "embedding", or "both": [features | embedding]
    seeds: int = 1
    baseline: bool = False  # subtract each unit's level over its first t_d steps
    window: int = 0  # rolling mean and std over this many steps (0: the rows themselves)
    beta: float = 0.05  # ridge of APAIC
    weight_decay: float | str = 1.0  # or "auto" (Frusque et al.'s procedure)
    deepsad: dict[str, Any] = field(default_factory=dict)  # other DeepSAD settings (epochs, embedding_dim...)


class HealthIndexModel:
    def __init__(self, config: HIConfig | None = None, seed: int = 0, progress: bool = False, **overrides: Any):
        self.config = replace(config or HIConfig(), **overrides)
        if self.config.fusion not in ("embedding", "both"):
            raise ValueError("fusion must be 'embedding' or 'both'")
        self.seed, self.progress = seed, progress

    # ------------------------------------------------------------ steps per unit
    def limits(self, length: int) -> tuple[int, int]:
        """(t_d, t_f) in steps for a unit of ``length`` steps."""
        return life_steps(length, self.config.t_d), life_steps(length, self.config.t_f)

    def _running_t_d(self) -> int:
        """t_d of a unit whose life is unknown: a share of the median training life."""
        return life_steps(self.median_life_, self.config.t_d)

    def _features(self, unit: np.ndarray) -> np.ndarray:
        return self.scaler.transform(self.unit_features.transform(unit))

    # ------------------------------------------------------------ fit
    def fit(self, trajectories: Sequence[np.ndarray], running: Sequence[np.ndarray] = ()) -> HealthIndexModel:
        """``trajectories``: per-unit (T, F) arrays in time order, each ending in failure; ``running``:
        units still in service (Frusque et al.'s held-out units): their first ``t_d`` steps are labelled
        healthy for the encoder and they enter the fusion without a failure bound (Eq. 9). Leave it empty
        for a model that never saw the units it will score."""
        cfg = self.config
        units = [np.asarray(u, dtype=float) for u in trajectories]
        live = [np.asarray(r, dtype=float) for r in running]
        self.median_life_ = int(np.median([len(u) for u in units]))
        self.unit_limits_ = [self.limits(len(u)) for u in units]
        for k, (unit, (t_d, t_f)) in enumerate(zip(units, self.unit_limits_, strict=True)):
            if len(unit) < t_d + t_f:
                raise ValueError(f"unit {k}: {len(unit)} steps, fewer than t_d + t_f = {t_d + t_f}")
        self.unit_features = UnitFeatures(baseline=self._running_t_d() if cfg.baseline else 0, window=cfg.window)
        raw = [self.unit_features.transform(u) for u in units]
        raw_live = [self.unit_features.transform(r) for r in live]
        self.scaler = StandardScaler().fit(np.vstack(raw))  # all training rows: healthy ones are off the origin
        scaled = [self.scaler.transform(u) for u in raw]
        scaled_live = [self.scaler.transform(r) for r in raw_live]
        labels = np.concatenate(
            [end_labels(len(u), t_d, t_f) for u, (t_d, t_f) in zip(units, self.unit_limits_, strict=True)]
            + [end_labels(len(r), min(self._running_t_d(), len(r)), None) for r in live]
        )
        self.members = []
        for k in range(cfg.seeds):
            seed = self.seed + k
            deepsad = self._encoder(np.vstack(scaled + scaled_live), labels, seed) if cfg.encoder else None
            fusion = APAIC(self.unit_limits_[0][0], self.unit_limits_[0][1], beta=cfg.beta).fit(
                [self._fused(u, deepsad) for u in scaled],
                [self._fused(r, deepsad) for r in scaled_live],
                limits=self.unit_limits_,
            )
            self.members.append((deepsad, fusion))
        return self

    def _encoder(self, rows: np.ndarray, labels: np.ndarray, seed: int) -> DeepSAD:
        cfg = self.config
        settings = {"diversity": cfg.diversity, **cfg.deepsad}
        if cfg.weight_decay != "auto":
            return DeepSAD(seed=seed, progress=self.progress, weight_decay=float(cfg.weight_decay), **settings).fit(
                rows, labels
            )
        for decay in WD_STEPS:  # Frusque et al.: raise the weight decay until two seeds agree
            first = DeepSAD(seed=seed, weight_decay=decay, **settings).fit(rows, labels)
            second = DeepSAD(seed=seed + 1000, weight_decay=decay, **settings).fit(rows, labels)
            agreement = float(np.corrcoef(first.score(rows), second.score(rows))[0, 1])
            self.weight_decay_ = (decay, agreement)
            if agreement >= WD_AGREEMENT:
                break
        return first

    def _fused(self, scaled: np.ndarray, deepsad: DeepSAD | None) -> np.ndarray:
        """What APAIC fuses: the embedding, the features, or both side by side."""
        if deepsad is None:
            return scaled
        embedding = deepsad.transform(scaled)
        return np.hstack([scaled, embedding]) if self.config.fusion == "both" else embedding

    # ------------------------------------------------------------ scoring
    def transform(self, unit: np.ndarray) -> np.ndarray:
        """The HI of each step of one unit (its rows in time order); causal."""
        scaled = self._features(np.asarray(unit, dtype=float))
        return np.mean([fusion.transform(self._fused(scaled, deepsad)) for deepsad, fusion in self.members], axis=0)

    def embed(self, unit: np.ndarray, member: int = 0) -> np.ndarray:
        """What the fusion of one member sees for each step of one unit."""
        return self._fused(self._features(np.asarray(unit, dtype=float)), self.members[member][0])

    def distance(self, unit: np.ndarray) -> np.ndarray:
        """DeepSAD's own anomaly score (squared distance to the centre), the "DeepSAD" baseline HI."""
        scaled = self._features(np.asarray(unit, dtype=float))
        encoders = [deepsad for deepsad, _ in self.members if deepsad is not None]
        if not encoders:
            raise ValueError("this health-index model fuses raw features (no DeepSAD encoder): it has no distance")
        return np.mean([deepsad.score(scaled) for deepsad in encoders], axis=0)

    @property
    def fusion(self) -> APAIC:
        return self.members[0][1]
