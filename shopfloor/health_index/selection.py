"""Which health index and which remaining-life estimate to serve, chosen by cross-validation across units.

Users ask of a health index: among my machines still running, which have the least life left? So each
candidate is fitted on the training folds' units and scores the held-out units from their own past only; each
held-out unit is cut at a random step (as an engine still in service, uniformly over 10-100 % of its life) and the
candidates are compared by the Spearman rank correlation, over all units, of the HI at the cut with the true
remaining life there (negative: a higher HI means less life left; more negative is better). The cuts are drawn
``draws`` times (mean and standard deviation over draws); the held-out HIs of all folds are pooled
(out-of-fold), so a few units per fold still give a figure. Beside it, the monotonicity, trendability and
prognosability of Frusque et al. on the full held-out trajectories.

Candidates: ``a2ds`` (2DS + APAIC of Frusque et al., ``HealthIndexModel``), ``apaic`` (APAIC on the causal
features, no encoder), ``ridge`` and ``hgb`` (``SupervisedHI``: the features regressed onto life fraction). All
see the same causal features; operating regimes are found on each fold's training units only.

Remaining life: ``hi`` (a regression of the capped remaining steps on the chosen HI's recent values, slope and
the step's age, ``RulModel``) against ``sensors`` (gradient boosting on the causal features and the age directly,
the raw-sensor rival), compared by RMSE against the capped truth at the same cuts; the PHM08 NASA score beside
it. The served interval is the 10th to 90th percentile of the chosen estimator's held-out errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from shopfloor.forest import regressor_predict
from shopfloor.health_index.estimator import HealthIndexModel, HIConfig
from shopfloor.health_index.metrics import hi_report
from shopfloor.health_index.prepare import OperatingRegimes, UnitFeatures, life_steps
from shopfloor.health_index.rul import CAP, RulModel, nasa_score
from shopfloor.health_index.supervised import SupervisedHI
from shopfloor.platform.budget import Interrupted, until

#: Simplest first: on a tie the simpler method wins.
METHODS = ("ridge", "hgb", "apaic", "a2ds")
RUL_METHODS = ("hi", "sensors")
INTERVAL = (10.0, 90.0)


@dataclass
class Settings:
    """What every candidate shares: the labelled ends, the causal features and the 2DS + APAIC settings."""

    hi: HIConfig = field(default_factory=HIConfig)
    conditions: list[str] = field(default_factory=list)
    seed: int = 0

    @property
    def window(self) -> int:
        return self.hi.window

    def baseline_steps(self, median_life: int) -> int:
        """Steps of a unit's early level subtracted from its features (0: none), as the HI models take them."""
        return life_steps(median_life, self.hi.t_d) if self.hi.baseline else 0


def make(method: str, settings: Settings, progress: bool = False) -> Any:
    """An unfitted health-index model: ``fit(list of (T, F) arrays)``, ``transform((T, F)) -> (T,)``."""
    cfg = settings.hi
    if method == "a2ds":
        return HealthIndexModel(cfg, seed=settings.seed, progress=progress)
    if method == "apaic":
        return HealthIndexModel(replace(cfg, encoder=None, seeds=1, fusion="embedding"), seed=settings.seed)
    if method in ("ridge", "hgb"):
        return SupervisedHI(method, window=cfg.window, baseline=cfg.baseline, t_d=cfg.t_d, seed=settings.seed)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


class HIRul:
    """Remaining life from the HI curve (``RulModel``)."""

    name = "hi"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, units: Sequence[np.ndarray], his: Sequence[np.ndarray]) -> HIRul:
        self.model = RulModel(seed=self.seed).fit(list(his))
        return self

    def predict(self, unit: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self.model.predict(hi)


class SensorRul:
    """Remaining life from the causal features and the step's age, by gradient boosting (the raw-sensor rival)."""

    name = "sensors"

    def __init__(self, window: int = 10, baseline: int = 0, seed: int = 0) -> None:
        self.window, self.baseline, self.seed = max(window, 2), baseline, seed

    def _x(self, unit: np.ndarray) -> np.ndarray:
        x = self.scaler.transform(self.features.transform(np.asarray(unit, dtype=float)))
        return np.hstack([x, np.arange(len(x), dtype=float)[:, None]])

    def fit(self, units: Sequence[np.ndarray], his: Sequence[np.ndarray] | None = None) -> SensorRul:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self.features = UnitFeatures(baseline=self.baseline, window=self.window)
        self.scaler = StandardScaler().fit(np.vstack([self.features.transform(u) for u in units]))
        x = np.vstack([self._x(u) for u in units])
        y = np.concatenate([capped_rul(len(u)) for u in units])
        self.model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=self.seed).fit(x, y)
        return self

    def predict(self, unit: np.ndarray, hi: np.ndarray | None = None) -> np.ndarray:
        compiled = self.__dict__.setdefault("_compiled", {})  # its trees as a Forest, built on first use
        return np.clip(regressor_predict(self.model, self._x(unit), compiled), 0.0, CAP)


def make_rul(method: str, settings: Settings, median_life: int) -> HIRul | SensorRul:
    """An unfitted remaining-life estimator (``median_life``: of the units it will be fitted on, for the baseline
    steps when the features subtract a unit's early level)."""
    if method == "hi":
        return hi_rul(settings)
    if method == "sensors":
        return sensor_rul(settings, median_life)
    raise ValueError(f"remaining-life method must be one of {RUL_METHODS}, got {method!r}")


def hi_rul(settings: Settings) -> HIRul:
    """Remaining life from a unit's health index."""
    return HIRul(seed=settings.seed)


def sensor_rul(settings: Settings, median_life: int) -> SensorRul:
    """Remaining life from a unit's sensors directly, the rival a practitioner tries first."""
    return SensorRul(window=settings.window or 10, baseline=settings.baseline_steps(median_life), seed=settings.seed)


def capped_rul(length: int, cap: float = CAP) -> np.ndarray:
    """Remaining steps at each step of a unit that fails at its last step, capped at ``cap``."""
    return np.minimum(np.arange(length)[::-1], cap).astype(float)


def unit_arrays(
    frames: Sequence[pd.DataFrame], features: list[str], regimes: OperatingRegimes | None
) -> list[np.ndarray]:
    return [regimes.transform(g) if regimes is not None else g[features].to_numpy(float) for g in frames]


def fit_regimes(frames: Sequence[pd.DataFrame], features: list[str], settings: Settings) -> OperatingRegimes | None:
    if not settings.conditions:
        return None
    return OperatingRegimes(settings.conditions, seed=settings.seed).fit(pd.concat(list(frames)), features)


def random_cuts(lengths: Sequence[int], rng: np.random.Generator, start: float = 0.1) -> np.ndarray:
    """One step per unit, uniform over ``start``-100 % of its life (its last step is its failure)."""
    return np.array([int(rng.integers(min(int(start * n), n - 1), n)) for n in lengths])


def rank_at_cuts(his: Sequence[np.ndarray], cuts: np.ndarray) -> float:
    """Spearman correlation over units of the HI at each unit's cut with its true remaining life there."""
    values = np.array([h[c] for h, c in zip(his, cuts, strict=True)])
    remaining = np.array([len(h) - 1 - c for h, c in zip(his, cuts, strict=True)])
    if np.ptp(values) == 0 or np.ptp(remaining) == 0:
        return 0.0
    return float(spearmanr(values, remaining).statistic)


@dataclass
class CVResult:
    table: pd.DataFrame  # one row per method (HI and remaining life), CV figures
    chosen: str
    rul_chosen: str
    residuals: np.ndarray  # true (capped) minus predicted remaining life of the chosen estimator at the cuts
    folds: int
    draws: int
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _folds(n: int, folds: int) -> int:
    if n < 4:
        raise ValueError(f"cross-validation across units needs at least 4 training units, got {n}")
    return max(2, min(folds, n // 2))


def cross_validate(
    frames: Sequence[pd.DataFrame],
    features: list[str],
    settings: Settings,
    *,
    methods: Sequence[str] = METHODS,
    folds: int = 5,
    draws: int = 20,
    timeout: float | None = None,
    on_fit: Callable[[str, int], None] | None = None,
    left: Callable[[], float] | None = None,
    forward: bool = False,
) -> CVResult:
    """Out-of-fold HIs and remaining-life estimates of every method; the choices (see the module docstring).

    ``frames``: each training unit's rows in time order. The methods run one after the other, every fold of one
    before the next, simplest first (``METHODS``' order), so that a deadline leaves out the costliest: ``timeout``
    (seconds from now) or ``left()`` (seconds left to a run's budget). Before each fold of a method, a method whose
    remaining folds, at its pace so far, would end past it is left out (named in ``skipped``); a method's first
    fold is not started when it would end past the deadline at the pace of the simpler methods' folds. The first
    method always completes, so a run has a model to register.

    With ``forward`` (``frames`` in order of the units' starts) the folds chain forward: the units are cut into
    folds + 1 consecutive blocks, fold k fits on blocks 0..k and scores block k + 1, and the figures pool the units
    that were scored (the first block's are only ever fitted on).
    """
    started = time.monotonic()
    methods = sorted(methods, key=lambda m: METHODS.index(m) if m in METHODS else len(METHODS))
    if left is None:
        left = (lambda: timeout - (time.monotonic() - started)) if timeout else (lambda: float("inf"))
    n = len(frames)
    k = _folds(n, folds)
    if forward:
        edges = np.linspace(0, n, k + 2).round().astype(int)
        pairs = [(np.arange(edges[j]), np.arange(edges[j], edges[j + 1])) for j in range(1, k + 1)]
    else:
        pairs = list(KFold(n_splits=k, shuffle=True, random_state=settings.seed).split(np.arange(n)))
    his: dict[str, list[np.ndarray | None]] = {m: [None] * n for m in methods}
    ruls: dict[str, list[np.ndarray | None]] = {key: [None] * n for key in [*(f"{m}/hi" for m in methods), "sensors"]}
    seconds: dict[str, float] = dict.fromkeys([*methods, "sensors"], 0.0)
    skipped: dict[str, str] = {}
    prepared = []  # each fold's regimes and unit arrays, made once for every method
    for fit_idx, held_idx in pairs:
        regimes = fit_regimes([frames[i] for i in fit_idx], features, settings)
        fit_units = unit_arrays([frames[i] for i in fit_idx], features, regimes)
        held_units = unit_arrays([frames[i] for i in held_idx], features, regimes)
        median_life = int(np.median([len(u) for u in fit_units]))
        begun = time.monotonic()
        sensors = sensor_rul(settings, median_life).fit(fit_units)
        for i, unit in zip(held_idx, held_units, strict=True):
            ruls["sensors"][i] = sensors.predict(unit)
        seconds["sensors"] += time.monotonic() - begun
        prepared.append((held_idx, fit_units, held_units, median_life))
    for rank, method in enumerate(methods):
        for fold, (held_idx, fit_units, held_units, _) in enumerate(prepared):
            if rank:  # would this method's remaining folds, at its pace (or the simpler ones'), end too late?
                paces = [seconds[m] / k for m in methods[:rank] if m not in skipped]
                pace = seconds[method] / fold if fold else min(paces, default=0.0)
                if pace * (k - fold) > left():
                    skipped[method] = (
                        f"left out: its {k - fold} remaining fold(s) would end past the time "
                        f"limit at about {pace:.0f} s a fold (fold {fold + 1} of {k})"
                    )
                    his[method] = [None] * n
                    break
            if on_fit:
                on_fit(method, fold)
            begun = time.monotonic()
            try:  # every method but the first stops when the time limit passes in the middle of its fit
                with until(None if rank == 0 else time.time() + left()):
                    model = make(method, settings).fit(fit_units)
            except Interrupted:
                skipped[method] = (
                    f"left out: its fold {fold + 1} of {k} was stopped at the time limit after "
                    f"{time.monotonic() - begun:.0f} s"
                )
                his[method] = [None for _ in range(n)]
                break
            rul = hi_rul(settings).fit(fit_units, [model.transform(u) for u in fit_units])
            for i, unit in zip(held_idx, held_units, strict=True):
                his[method][i] = model.transform(unit)
                ruls[f"{method}/hi"][i] = rul.predict(unit, his[method][i])
            seconds[method] += time.monotonic() - begun
    done = [m for m in methods if m not in skipped]
    scored = sorted(int(i) for _, held in pairs for i in held)  # every unit, unless the folds chain forward
    his = {m: [curves[i] for i in scored] for m, curves in his.items()}
    ruls = {key: [values[i] for i in scored] for key, values in ruls.items()}
    rng = np.random.default_rng(settings.seed)
    lengths = [len(frames[i]) for i in scored]
    cut_draws = [random_cuts(lengths, rng) for _ in range(draws)]
    truth = [capped_rul(n_) for n_ in lengths]
    rows = []
    for method in done:
        curves = cast(list[np.ndarray], his[method])  # every fold filled them: the method was not left out
        ranks = [rank_at_cuts(curves, cuts) for cuts in cut_draws]
        report = hi_report(curves)
        rows.append(
            {
                "method": method,
                "kind": "health index",
                "spearman_rul": float(np.mean(ranks)),
                "spearman_rul_sd": float(np.std(ranks)),
                "monotonicity": report["monotonicity"],
                "trendability": report["trendability"],
                "prognosability": report["prognosability"],
                **_rul_errors(cast(list[np.ndarray], ruls[f"{method}/hi"]), truth, cut_draws),
                "seconds": seconds[method],
            }
        )
    table = pd.DataFrame(rows)
    best = table["spearman_rul"].min()
    chosen = str(table.loc[np.isclose(table["spearman_rul"], best, rtol=0, atol=1e-9), "method"].iloc[0])
    sensors_errors = _rul_errors(cast(list[np.ndarray], ruls["sensors"]), truth, cut_draws)
    sensors_row = {"method": "sensors", "kind": "remaining life", **sensors_errors, "seconds": seconds["sensors"]}
    table = pd.concat([table, pd.DataFrame([sensors_row])], ignore_index=True)
    hi_rmse = float(table.loc[table["method"] == chosen, "rul_rmse"].iloc[0])
    rul_chosen = "sensors" if sensors_errors["rul_rmse"] < hi_rmse else "hi"
    chosen_ruls = cast(list[np.ndarray], ruls["sensors"] if rul_chosen == "sensors" else ruls[f"{chosen}/hi"])
    residuals = np.concatenate(
        [[t[c] - p[c] for t, p, c in zip(truth, chosen_ruls, cuts, strict=True)] for cuts in cut_draws]
    )
    return CVResult(table, chosen, rul_chosen, residuals, k, draws, skipped, seconds)


def _rul_errors(
    predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray], cut_draws: Sequence[np.ndarray]
) -> dict[str, float]:
    """RMSE against the capped truth and the NASA score per unit, over every draw's cuts."""
    p = np.concatenate([[pr[c] for pr, c in zip(predicted, cuts, strict=True)] for cuts in cut_draws])
    t = np.concatenate([[tr[c] for tr, c in zip(truth, cuts, strict=True)] for cuts in cut_draws])
    return {"rul_rmse": float(np.sqrt(np.mean((p - t) ** 2))), "rul_nasa_score": nasa_score(p, t) / max(len(t), 1)}


def interval(residuals: np.ndarray) -> tuple[float, float]:
    """The (low, high) offsets to add to an estimate: percentiles ``INTERVAL`` of the held-out errors."""
    low, high = np.percentile(residuals, INTERVAL)
    return float(low), float(high)


def at_cuts(frames: list[pd.DataFrame], draws: int = 20, seed: int = 0) -> dict[str, float]:
    """What the cross-validation measures, for these units: each cut at random steps (as engines still running),
    the Spearman correlation of the HI there with the remaining life (``rul_ranking``: its negative, 1 when the
    HI ranks units exactly by life left), and the remaining-life estimate's RMSE against the capped truth, its
    NASA score and how often the interval holds the truth."""
    rng = np.random.default_rng(seed)
    his = [g["health_index"].to_numpy() for g in frames]
    ranks: list[float] = []
    predicted: list[float] = []
    true: list[float] = []
    inside: list[bool] = []
    for _ in range(draws):
        cuts = random_cuts([len(g) for g in frames], rng)
        ranks.append(rank_at_cuts(his, cuts))
        for g, c in zip(frames, cuts, strict=True):
            truth = capped_rul(len(g))[c]
            predicted.append(float(g["rul"].iloc[c]))
            true.append(truth)
            inside.append(g["rul_lower"].iloc[c] <= truth <= g["rul_upper"].iloc[c])
    guess, real = np.array(predicted), np.array(true)
    return {
        "spearman_rul": float(np.mean(ranks)),
        "rul_ranking": -float(np.mean(ranks)),
        "rul_rmse": float(np.sqrt(np.mean((guess - real) ** 2))),
        "rul_nasa_score": nasa_score(guess, real) / max(len(real), 1),
        "rul_interval_coverage": float(np.mean(inside)),
    }
