"""The seed's measures of an anomaly score: PR-AUC and ROC-AUC per split, per cut and per cutting parameter.

PR-AUC is the trapezoidal area under the precision-recall curve, as the seed computes it
(``auc(recalls, precisions)``); average precision (the step-wise area, never optimistic) is reported
beside it. The no-skill precision is the share of failed windows. A cut's score is the mean of its
sub-cuts' scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from shopfloor.classify.metrics import classification_report

#: Cutting parameters of the milling data set and how the seed names their values.
PARAMETERS = {"material": {1: "cast iron", 2: "steel"}, "DOC": {0.75: "depth 0.75", 1.5: "depth 1.5"},
              "feed": {0.25: "feed 0.25", 0.5: "feed 0.5"}}


def pr_auc(failed: np.ndarray, score: np.ndarray) -> float:
    if failed.sum() == 0 or failed.sum() == len(failed):
        return float("nan")
    precision, recall, _ = precision_recall_curve(failed, score)
    return float(auc(recall, precision))


def score_metrics(failed: np.ndarray, score: np.ndarray, prefix: str) -> dict[str, float]:
    """PR-AUC, average precision and ROC-AUC of one score (NaN where a class is missing)."""
    both = 0 < failed.sum() < len(failed)
    return {f"{prefix}_pr_auc": pr_auc(failed, score),
            f"{prefix}_ap": float(average_precision_score(failed, score)) if both else float("nan"),
            f"{prefix}_roc_auc": float(roc_auc_score(failed, score)) if both else float("nan")}


def curves(failed: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    precision, recall, _ = precision_recall_curve(failed, score)
    fpr, tpr, _ = roc_curve(failed, score)
    return {"precision": precision, "recall": recall, "fpr": fpr, "tpr": tpr}


def per_cut(meta: pd.DataFrame, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per cut: its labels and the mean of its windows' scores."""
    keep = [c for c in ("cut", "case", "run", "VB", "tool_class", "DOC", "feed", "material") if c in meta]
    frame = meta[keep].assign(**{k: v for k, v in scores.items() if np.ndim(v) == 1})
    return frame.groupby("cut", sort=True).agg({**{c: "first" for c in keep if c != "cut"},
                                                **{k: "mean" for k, v in scores.items() if np.ndim(v) == 1}})\
        .reset_index()


def split_report(meta: pd.DataFrame, failed: np.ndarray, scores: dict[str, np.ndarray],
                 threshold: float, score: str) -> dict[str, float]:
    """Window- and cut-level AUCs of both scores, the no-skill precision and the flag's confusion counts."""
    out = {"windows": int(len(failed)), "failed_windows": int(failed.sum()),
           "no_skill_precision": float(failed.mean()) if len(failed) else float("nan")}
    for space in ("latent", "input"):
        out |= score_metrics(failed, scores[space], space)
    cuts = per_cut(meta, scores)
    cut_failed = (cuts["tool_class"] == 2).to_numpy().astype(int)
    out["cuts"], out["failed_cuts"] = int(len(cuts)), int(cut_failed.sum())
    for space in ("latent", "input"):
        out |= score_metrics(cut_failed, cuts[space].to_numpy(), f"cut_{space}")
    flagged = (scores[score] >= threshold).astype(int)
    rep = classification_report(failed, flagged)
    out |= {f"flag_{k}": float(rep[k]) for k in ("precision", "recall", "f1", "f2") if k in rep}
    return out


def by_parameter(meta: pd.DataFrame, failed: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """PR-AUC of ``score`` on the windows of each cutting-parameter value (the seed's bar chart)."""
    rows = []
    for column, names in PARAMETERS.items():
        if column not in meta:
            continue
        values = meta[column].to_numpy()
        for value in sorted(pd.unique(values)):
            mask = values == value
            label = names.get(float(value), f"{column} {value:g}")
            rows.append({"parameter": column, "value": float(value), "label": label,
                         "windows": int(mask.sum()), "failed_windows": int(failed[mask].sum()),
                         "pr_auc": pr_auc(failed[mask], score[mask]),
                         "no_skill_precision": float(failed[mask].mean())})
    return pd.DataFrame(rows)
