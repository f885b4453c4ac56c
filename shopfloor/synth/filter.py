"""Filters of synthetic minority rows: the K-means filter of Dahdal et al. and a likelihood filter.

K-means (Fig. 2, steps 4-5): keep synthetic rows that look faulty.

Real training sets hold mislabeled units, and a GAN fitted on them reproduces the mistakes. The
filter fits 2-means on the original training set, takes the centroid of the cluster that holds the
larger share of minority rows, and keeps the ``N`` synthetic rows nearest to it that lie within
``d_max``, with ``N`` = majority count - minority count, so the augmented set is balanced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans


@dataclass
class FilterResult:
    kept: pd.DataFrame
    kept_index: np.ndarray  # positions of the kept rows among the candidates, nearest first
    distances: np.ndarray  # distance of every candidate row to the minority centroid
    centroid: np.ndarray
    d_max: float
    n_target: int


def minority_centroid(features: pd.DataFrame, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-means on all training rows; the centroid whose cluster has the higher minority share."""
    km = KMeans(n_clusters=2, n_init=10, random_state=seed).fit(features.to_numpy(float))
    shares = [labels[km.labels_ == k].mean() if np.any(km.labels_ == k) else -1.0 for k in (0, 1)]
    return km.cluster_centers_[int(np.argmax(shares))]


def kmeans_filter(candidates: pd.DataFrame, features: pd.DataFrame, labels: np.ndarray, *,
                  d_max: float | None = None, d_max_quantile: float = 0.95, seed: int = 0) -> FilterResult:
    """Keep at most ``N`` candidates nearest the minority centroid with distance <= ``d_max``.

    When ``d_max`` is not given it is the ``d_max_quantile`` of the real minority rows' distances to
    the centroid: a synthetic row farther out than nearly every real fault is not trusted.
    """
    labels = np.asarray(labels, dtype=int)
    n_target = int((labels == 0).sum() - (labels == 1).sum())
    centroid = minority_centroid(features, labels, seed)
    dist = np.linalg.norm(candidates[features.columns].to_numpy(float) - centroid, axis=1)
    if d_max is None:
        real = np.linalg.norm(features.to_numpy(float)[labels == 1] - centroid, axis=1)
        d_max = float(np.quantile(real, d_max_quantile))
    order = np.argsort(dist, kind="stable")
    order = order[dist[order] <= d_max][:max(n_target, 0)]
    return FilterResult(candidates.iloc[order].reset_index(drop=True), order, dist, centroid, float(d_max), n_target)


@dataclass
class LikelihoodResult:
    kept: pd.DataFrame
    kept_index: np.ndarray  # positions of the kept rows among the candidates
    log_density: np.ndarray  # of every candidate under the flow fitted on the real minority rows
    threshold: float


def likelihood_filter(candidates: pd.DataFrame, real_minority: pd.DataFrame, *, quantile: float = 0.05,
                      seed: int = 0, epochs: int = 150, folds: int = 3) -> LikelihoodResult:
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
        flow = FlowSynthesizer(seed=seed, progress=False, epochs=epochs, n_blocks=4, hidden_units=32,
                               weight_decay=1e-3, batch_size=min(32, len(part))).fit(part)
        out_of_fold[held_idx] = flow.log_prob(real.iloc[held_idx])
        density += flow.log_prob(cand) / folds
    threshold = float(np.quantile(out_of_fold, quantile))
    index = np.flatnonzero(density >= threshold)
    return LikelihoodResult(candidates.iloc[index].reset_index(drop=True), index, density, threshold)
