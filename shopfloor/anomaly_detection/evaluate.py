"""Measures of an anomaly score: average precision (the primary figure), PR-AUC and ROC-AUC per split, per cut
and per cutting parameter.

Average precision (AP, scikit-learn's step-wise area) never rewards tied scores. PR-AUC is the trapezoidal area
under the precision-recall curve as von Hahn and Mechefske compute it (``auc(recalls, precisions)``): beside AP
for comparison with their figures, but optimistic where many windows share one score (a saturating signal). The
no-skill precision is the share of failed windows. A cut's score is the mean of its sub-cuts' scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from shopfloor.fault_detection.metrics import classification_report

#: Cutting parameters of the milling data set and how von Hahn and Mechefske name their values.
PARAMETERS: dict[str, dict[float, str]] = {
    "material": {1: "cast iron", 2: "steel"},
    "DOC": {0.75: "depth 0.75", 1.5: "depth 1.5"},
    "feed": {0.25: "feed 0.25", 0.5: "feed 0.5"},
}


def pr_auc(failed: np.ndarray, score: np.ndarray) -> float:
    if failed.sum() == 0 or failed.sum() == len(failed):
        return float("nan")
    precision, recall, _ = precision_recall_curve(failed, score)
    return float(auc(recall, precision))


def score_metrics(failed: np.ndarray, score: np.ndarray, prefix: str) -> dict[str, float]:
    """Average precision, PR-AUC and ROC-AUC of one score (NaN where a class is missing)."""
    both = 0 < failed.sum() < len(failed)
    return {
        f"{prefix}_ap": float(average_precision_score(failed, score)) if both else float("nan"),
        f"{prefix}_pr_auc": pr_auc(failed, score),
        f"{prefix}_roc_auc": float(roc_auc_score(failed, score)) if both else float("nan"),
    }


def curves(failed: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    precision, recall, _ = precision_recall_curve(failed, score)
    fpr, tpr, _ = roc_curve(failed, score)
    return {"precision": precision, "recall": recall, "fpr": fpr, "tpr": tpr}


def per_cut(meta: pd.DataFrame, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per cut: its labels and the mean of its windows' scores."""
    keep = [c for c in ("cut", "case", "run", "VB", "tool_class", "DOC", "feed", "material") if c in meta]
    frame = meta[keep].assign(**{k: v for k, v in scores.items() if np.ndim(v) == 1})
    return (
        frame.groupby("cut", sort=True)
        .agg({**{c: "first" for c in keep if c != "cut"}, **{k: "mean" for k, v in scores.items() if np.ndim(v) == 1}})
        .reset_index()
    )


def split_report(meta: pd.DataFrame, failed: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """Window- and cut-level AP, PR-AUC and ROC-AUC of a score, the no-skill precision and the flag's figures."""
    out = {
        "windows": int(len(failed)),
        "failed_windows": int(failed.sum()),
        "no_skill_precision": float(failed.mean()) if len(failed) else float("nan"),
    }
    out |= {k.removeprefix("x_"): v for k, v in score_metrics(failed, score, "x").items()}
    cuts = per_cut(meta, {"score": score})
    cut_failed = (cuts["tool_class"] == 2).to_numpy().astype(int)
    out["cuts"], out["failed_cuts"] = int(len(cuts)), int(cut_failed.sum())
    out |= score_metrics(cut_failed, cuts["score"].to_numpy(), "cut")
    flagged = (score >= threshold).astype(int)
    rep = classification_report(failed, flagged)
    out |= {f"flag_{k}": float(rep[k]) for k in ("precision", "recall", "f1", "f2") if k in rep}
    return out


def by_parameter(meta: pd.DataFrame, failed: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """AP and PR-AUC of ``score`` on the windows of each cutting-parameter value (von Hahn and Mechefske's bar
    chart)."""
    rows = []
    for column, names in PARAMETERS.items():
        if column not in meta:
            continue
        values = meta[column].to_numpy()
        for value in sorted(pd.unique(values)):
            mask = values == value
            label = names.get(float(value), f"{column} {value:g}")
            rows.append(
                {
                    "parameter": column,
                    "value": float(value),
                    "label": label,
                    "windows": int(mask.sum()),
                    "failed_windows": int(failed[mask].sum()),
                    "ap": score_metrics(failed[mask], score[mask], "x")["x_ap"],
                    "pr_auc": pr_auc(failed[mask], score[mask]),
                    "no_skill_precision": float(failed[mask].mean()),
                }
            )
    return pd.DataFrame(rows)
