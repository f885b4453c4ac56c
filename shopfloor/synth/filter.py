"""Filters of synthetic minority rows, all in the classifier's encoded [-1, 1] space, behind one call.

* ``kmeans`` (Dahdal et al., Fig. 2 steps 4-5): 2-means on the real training rows; the centroid of the
  cluster with the larger minority share is the "faulty" centroid, and candidates are kept nearest first
  within ``d_max`` (the 0.95 quantile of the real faults' distances to it). The method rests on a
  premise: that 2-means separates good from faulty units. It is checked: when the chosen cluster's
  minority share is below twice the base rate (2-means split the rows on something else, e.g. a product
  type), the run says so and the centroid of the real faulty rows is used instead.
* ``likelihood``: candidates as plausible as the real faults under cross-fitted flows (below).
* ``discriminator``: a gradient-boosted classifier of real faulty vs real healthy rows, fitted on the
  training rows only, keeps the candidates it scores as faulty (probability at least 0.5 with balanced
  class weights).
* ``both``: the likelihood filter, then K-means order among the survivors; ``none``: every candidate.

Each returns the kept candidates' positions in the order they are taken: the first N serve when N
synthetic rows are asked for (the amount is chosen later, by cross-validation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from shopfloor.constants import FILTERS
from shopfloor.errors import DataError

PREMISE_FACTOR = 2.0  # the chosen cluster's minority share must reach this multiple of the base rate


@dataclass
class Filtered:
    order: np.ndarray  # positions of the kept candidates, in the order they are taken
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class KMeansResult:
    kept: pd.DataFrame
    kept_index: np.ndarray  # positions of the kept rows among the candidates, nearest first
    distances: np.ndarray  # distance of every candidate row to the minority centroid
    centroid: np.ndarray
    d_max: float
    n_target: int | None
    cluster_share: float  # minority share of the chosen 2-means cluster
    base_rate: float
    premise_holds: bool

    @property
    def note(self) -> str:
        if self.premise_holds:
            return f"2-means found a faulty cluster ({self.cluster_share:.1%} faulty vs {self.base_rate:.1%} overall)"
        return (
            f"2-means did not separate faulty rows (its best cluster is {self.cluster_share:.1%} faulty vs "
            f"{self.base_rate:.1%} overall): the centroid of the real faulty rows was used instead"
        )


def minority_centroid(features: pd.DataFrame, labels: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """2-means on all training rows: (the centroid of the cluster with the higher minority share, that share)."""
    km = KMeans(n_clusters=2, n_init=10, random_state=seed).fit(features.to_numpy(float))
    shares = [labels[km.labels_ == k].mean() if np.any(km.labels_ == k) else -1.0 for k in (0, 1)]
    best = int(np.argmax(shares))
    return km.cluster_centers_[best], float(shares[best])


def kmeans_filter(
    candidates: pd.DataFrame,
    features: pd.DataFrame,
    labels: np.ndarray,
    *,
    n_target: int | None = None,
    d_max: float | None = None,
    d_max_quantile: float = 0.95,
    seed: int = 0,
) -> KMeansResult:
    """Keep the candidates nearest the minority centroid with distance <= ``d_max``, at most ``n_target``.

    When ``d_max`` is not given it is the ``d_max_quantile`` of the real minority rows' distances to
    the centroid: a synthetic row farther out than nearly every real fault is not trusted.
    """
    labels = np.asarray(labels, dtype=int)
    base_rate = float(labels.mean())
    centroid, share = minority_centroid(features, labels, seed)
    premise = share >= PREMISE_FACTOR * base_rate
    if not premise:
        centroid = features.to_numpy(float)[labels == 1].mean(axis=0)
    dist = np.linalg.norm(candidates[features.columns].to_numpy(float) - centroid, axis=1)
    if d_max is None:
        real = np.linalg.norm(features.to_numpy(float)[labels == 1] - centroid, axis=1)
        d_max = float(np.quantile(real, d_max_quantile))
    order = np.argsort(dist, kind="stable")
    order = order[dist[order] <= d_max]
    if n_target is not None:
        order = order[: max(n_target, 0)]
    return KMeansResult(
        candidates.iloc[order].reset_index(drop=True),
        order,
        dist,
        centroid,
        float(d_max),
        n_target,
        share,
        base_rate,
        bool(premise),
    )


@dataclass
class LikelihoodResult:
    kept: pd.DataFrame
    kept_index: np.ndarray  # positions of the kept rows among the candidates
    log_density: np.ndarray  # of every candidate under the flow fitted on the real minority rows
    threshold: float


def likelihood_filter(
    candidates: pd.DataFrame,
    real_minority: pd.DataFrame,
    *,
    quantile: float = 0.05,
    seed: int = 0,
    steps: int = 300,
    folds: int = 3,
) -> LikelihoodResult:
    """Drop candidates whose log-density, under flows fitted on the real minority rows, falls below
    the ``quantile`` of the real rows' own log-densities.

    Where the K-means filter asks "is this row near the faulty cluster?", this asks "is this row as
    plausible as the real faults are?", which also catches rows with implausible feature combinations.
    A flow fitted on a few dozen rows rates those very rows far above any new one, so the densities
    are cross-fitted: with ``folds`` folds, each flow scores the real rows it did not see and all
    candidates; the threshold comes from those out-of-fold scores, and a candidate's score is the
    mean over the folds' flows, so real rows and candidates are judged alike. Densities live in the
    leading whitened principal components of the real faults (at most one per five rows): a few dozen
    rows cannot pin down a density in 66 dimensions.
    """
    from sklearn.decomposition import PCA
    from sklearn.model_selection import KFold

    from shopfloor.synth.flow import FlowSynthesizer

    if not 0.0 <= quantile < 1.0:
        raise ValueError("quantile must lie in [0, 1)")
    folds = max(2, min(folds, len(real_minority)))
    n_comp = int(min(real_minority.shape[1], max(2, len(real_minority) // 5)))
    pca = PCA(n_components=n_comp, whiten=True, random_state=seed).fit(real_minority.to_numpy(float))
    names = [f"pc{i}" for i in range(n_comp)]
    real = pd.DataFrame(pca.transform(real_minority.to_numpy(float)), columns=names)
    cand = pd.DataFrame(pca.transform(candidates[real_minority.columns].to_numpy(float)), columns=names)
    out_of_fold = np.empty(len(real))
    density = np.zeros(len(cand))
    for fit_idx, held_idx in KFold(folds, shuffle=True, random_state=seed).split(real):
        part = real.iloc[fit_idx]
        flow = FlowSynthesizer(
            seed=seed,
            progress=False,
            steps=steps,
            n_blocks=4,
            hidden_units=32,
            weight_decay=1e-3,
            batch_size=min(32, len(part)),
        ).fit(part)
        out_of_fold[held_idx] = flow.log_prob(real.iloc[held_idx])
        density += flow.log_prob(cand) / folds
    threshold = float(np.quantile(out_of_fold, quantile))
    index = np.flatnonzero(density >= threshold)
    return LikelihoodResult(candidates.iloc[index].reset_index(drop=True), index, density, threshold)


def discriminator_scores(
    candidates: pd.DataFrame, features: pd.DataFrame, labels: np.ndarray, seed: int = 0
) -> np.ndarray:
    """P(faulty) of each candidate under a balanced gradient-boosted classifier of the real rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        class_weight="balanced", max_iter=100, max_bins=32, max_depth=3, random_state=seed
    ).fit(features.to_numpy(float), labels)
    return model.predict_proba(candidates[features.columns].to_numpy(float))[:, 1]


def filter_rows(
    method: str,
    candidates: pd.DataFrame,
    features: pd.DataFrame,
    labels: np.ndarray,
    *,
    seed: int = 0,
    d_max_quantile: float = 0.95,
    likelihood_quantile: float = 0.05,
) -> Filtered:
    """Apply filter ``method`` (see ``FILTERS``) to encoded ``candidates`` given the encoded real training
    rows ``features`` with their 0/1 ``labels``."""
    if method not in FILTERS:
        raise DataError("filter", f"must be one of {list(FILTERS)}, got {method!r}")
    labels = np.asarray(labels, dtype=int)
    rng = np.random.default_rng(seed)
    info: dict[str, Any] = {"method": method, "candidates": len(candidates)}
    order = np.arange(len(candidates))
    if candidates.empty:
        return Filtered(order, {**info, "kept": 0})
    if method in ("likelihood", "both"):
        lik = likelihood_filter(candidates, features[labels == 1], quantile=likelihood_quantile, seed=seed)
        order = rng.permutation(lik.kept_index)
        info |= {"after_likelihood": len(order), "log_density_threshold": lik.threshold}
    if method in ("kmeans", "both"):
        res = kmeans_filter(candidates.iloc[order], features, labels, d_max_quantile=d_max_quantile, seed=seed)
        order = order[res.kept_index]
        info |= {
            "d_max": res.d_max,
            "cluster_share": res.cluster_share,
            "base_rate": res.base_rate,
            "premise_holds": res.premise_holds,
            "note": res.note,
        }
    if method == "discriminator":
        scores = discriminator_scores(candidates, features, labels, seed)
        order = rng.permutation(np.flatnonzero(scores >= 0.5))
        info |= {"scored_faulty": len(order), "mean_score": float(scores.mean())}
    info["kept"] = len(order)
    return Filtered(np.asarray(order, dtype=int), info)
