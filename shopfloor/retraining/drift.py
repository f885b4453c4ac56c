"""Drift between reference data (what the champion was trained on) and new data, feature by feature.

* KS: the two-sample Kolmogorov-Smirnov statistic and its p-value; drift when D exceeds ``ks_threshold``
  and the p-value is below ``ks_alpha`` / features (a size that matters, and more than sampling noise:
  the Bonferroni division keeps a false alarm among all features below ``ks_alpha``).
* PSI: population stability index over deciles of the reference, ``sum (p_new - p_ref) ln(p_new / p_ref)``;
  the usual reading is < 0.1 stable, 0.1-0.25 moderate, > 0.25 drift (``psi_threshold``).

String (categorical) columns get the PSI over their categories (a category the reference never had
is a bin of its own) and, in the KS columns, the total variation distance between the category shares
with a chi-square test's p-value, read with the same thresholds.

The tests are scipy's (``ks_2samp``, ``chi2_contingency``); the Bonferroni division and the PSI are a few lines
here. Libraries that bundle them would weigh on the one image every step and model server runs: alibi-detect's
``TabularDrift`` (KS and chi-square with Bonferroni) would add 19 packages, transformers, opencv, numba and
scikit-image among them; Evidently (PSI and friends) 28, plotly, nltk and statsmodels among them (``pip install
--dry-run --report`` against this environment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency, ks_2samp

from shopfloor.errors import DataError


def psi(reference: np.ndarray, new: np.ndarray, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index with bins at the reference's quantiles (open-ended outer bins)."""
    reference, new = np.asarray(reference, float), np.asarray(new, float)
    inner = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.r_[-np.inf, inner, np.inf]
    p = np.maximum(np.histogram(reference, edges)[0] / len(reference), floor)
    q = np.maximum(np.histogram(new, edges)[0] / len(new), floor)
    return float(np.sum((q - p) * np.log(q / p)))


def category_shift(reference: pd.Series, new: pd.Series, floor: float = 1e-4) -> tuple[float, float, float]:
    """(total variation distance, chi-square p-value, PSI) between the category shares of two columns."""
    ref, cur = reference.dropna().astype(str).value_counts(), new.dropna().astype(str).value_counts()
    cats = sorted(set(ref.index) | set(cur.index))
    counts = np.array([[ref.get(c, 0) for c in cats], [cur.get(c, 0) for c in cats]], dtype=float)
    p, q = counts[0] / counts[0].sum(), counts[1] / counts[1].sum()
    pvalue = float(chi2_contingency(counts + 0.5)[1]) if len(cats) > 1 else 1.0
    pf, qf = np.maximum(p, floor), np.maximum(q, floor)
    return float(0.5 * np.abs(p - q).sum()), pvalue, float(np.sum((qf - pf) * np.log(qf / pf)))


@dataclass
class DriftReport:
    table: pd.DataFrame  # one row per feature: ks, ks_pvalue, psi, drifted

    @property
    def drifted(self) -> list[str]:
        return list(self.table.index[self.table["drifted"]])

    @property
    def any_drift(self) -> bool:
        return bool(self.table["drifted"].any())


def drift_report(
    reference: pd.DataFrame,
    new: pd.DataFrame,
    ks_threshold: float = 0.1,
    psi_threshold: float = 0.25,
    ks_alpha: float = 0.01,
) -> DriftReport:
    """KS and PSI per numeric column, category shift and PSI per string column; ``new`` must hold every
    reference column."""
    if new.empty:
        raise DataError("new data", "no rows")
    missing = [c for c in reference.columns if c not in new.columns]
    if missing:
        raise DataError(str(missing[0]), "column of the reference data is missing from the new data")
    rows = {}
    alpha = ks_alpha / max(1, len(reference.columns))
    for column in reference.columns:
        if pd.api.types.is_numeric_dtype(reference[column]):
            ref, cur = reference[column].dropna().to_numpy(float), new[column].dropna().to_numpy(float)
            test = ks_2samp(ref, cur)
            distance, pvalue, value = float(test.statistic), float(test.pvalue), psi(ref, cur)
        else:
            distance, pvalue, value = category_shift(reference[column], new[column])
        rows[column] = {
            "ks": distance,
            "ks_pvalue": pvalue,
            "psi": value,
            "drifted": bool((distance > ks_threshold and pvalue < alpha) or value > psi_threshold),
        }
    return DriftReport(pd.DataFrame.from_dict(rows, orient="index").rename_axis("feature"))
