"""Metrics for rare-fault classification: recall-weighted F2 and the G-mean beside the usual ones.

F-beta = (1 + b^2) P R / (b^2 P + R); F2 weighs recall twice as much as precision, because a missed
faulty gearbox costs far more than a needless re-test. G-mean = sqrt(recall * specificity) stays low
when either class is neglected.
"""

from __future__ import annotations

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import confusion_matrix, fbeta_score, precision_score, recall_score


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) with 1 as the positive (fault) class."""
    tn, fp, fn, tp = confusion_matrix(np.asarray(y_true, int), np.asarray(y_pred, int), labels=[0, 1]).ravel()
    return int(tn), int(fp), int(fn), int(tp)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """accuracy, precision, recall, specificity, f1, f2, g_mean and the confusion counts (scikit-learn's and
    imbalanced-learn's metrics; an undefined ratio, such as precision with no positive prediction, is 0)."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    tn, fp, fn, tp = confusion(y_true, y_pred)
    both = {"labels": [0, 1], "zero_division": 0}
    specificity = recall_score(y_true, y_pred, pos_label=0, **both)
    return {
        "accuracy": (tp + tn) / max(tp + tn + fp + fn, 1),
        "precision": float(precision_score(y_true, y_pred, **both)),
        "recall": float(recall_score(y_true, y_pred, **both)),
        "specificity": float(specificity),
        "f1": float(fbeta_score(y_true, y_pred, beta=1.0, **both)),
        "f2": float(fbeta_score(y_true, y_pred, beta=2.0, **both)),
        "g_mean": float(geometric_mean_score(y_true, y_pred, labels=[0, 1], average="binary"))
        if (y_true == 1).any() and (y_true == 0).any()
        else 0.0,
        "tn": tn,
        "fp": fp,
        "fn": fn,
        "tp": tp,
    }
