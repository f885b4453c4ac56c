"""The K-means filter of Dahdal et al. (Fig. 2, steps 4-5): keep synthetic rows that look faulty.

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
