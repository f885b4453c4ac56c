"""Drift between reference data (what the champion was trained on) and new data, feature by feature.

* KS: the two-sample Kolmogorov-Smirnov statistic and its p-value; drift when D exceeds ``ks_threshold``
  and the p-value is below ``ks_alpha`` / features (a size that matters, and more than sampling noise:
  the Bonferroni division keeps a false alarm among all features below ``ks_alpha``).
* PSI: population stability index over deciles of the reference, ``sum (p_new - p_ref) ln(p_new / p_ref)``;
  the usual reading is < 0.1 stable, 0.1-0.25 moderate, > 0.25 drift (``psi_threshold``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from shopfloor.errors import DataError


def psi(reference: np.ndarray, new: np.ndarray, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index with bins at the reference's quantiles (open-ended outer bins)."""
    reference, new = np.asarray(reference, float), np.asarray(new, float)
    inner = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.r_[-np.inf, inner, np.inf]
    p = np.maximum(np.histogram(reference, edges)[0] / len(reference), floor)
    q = np.maximum(np.histogram(new, edges)[0] / len(new), floor)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass
class DriftReport:
    table: pd.DataFrame  # one row per feature: ks, ks_pvalue, psi, drifted

    @property
    def drifted(self) -> list[str]:
        return list(self.table.index[self.table["drifted"]])

    @property
    def any_drift(self) -> bool:
        return bool(self.table["drifted"].any())


def drift_report(reference: pd.DataFrame, new: pd.DataFrame, ks_threshold: float = 0.1,
                 psi_threshold: float = 0.25, ks_alpha: float = 0.01) -> DriftReport:
    """KS and PSI per shared numeric feature; ``new`` must hold every reference column."""
    if new.empty:
        raise DataError("new data", "no rows")
    missing = [c for c in reference.columns if c not in new.columns]
    if missing:
        raise DataError(str(missing[0]), "column of the reference data is missing from the new data")
    rows = {}
    alpha = ks_alpha / max(1, len(reference.columns))
    for column in reference.columns:
        ref, cur = reference[column].dropna().to_numpy(float), new[column].dropna().to_numpy(float)
        test = ks_2samp(ref, cur)
        value = psi(ref, cur)
        rows[column] = {"ks": float(test.statistic), "ks_pvalue": float(test.pvalue), "psi": value,
                        "drifted": bool((test.statistic > ks_threshold and test.pvalue < alpha)
                                          or value > psi_threshold)}
    return DriftReport(pd.DataFrame.from_dict(rows, orient="index").rename_axis("feature"))
