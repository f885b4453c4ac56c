"""Metrics for rare-fault classification: recall-weighted F2 and the G-mean beside the usual ones.

F-beta = (1 + b^2) P R / (b^2 P + R); F2 weighs recall twice as much as precision, because a missed
faulty gearbox costs far more than a needless re-test. G-mean = sqrt(recall * specificity) stays low
when either class is neglected.
"""

from __future__ import annotations

import math

import numpy as np


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) with 1 as the positive (fault) class."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    tp = int(((y_true == 1) & (y_pred == 1)).sum())
    tn = int(((y_true == 0) & (y_pred == 0)).sum())
    fp = int(((y_true == 0) & (y_pred == 1)).sum())
    fn = int(((y_true == 1) & (y_pred == 0)).sum())
    return tn, fp, fn, tp


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return _ratio((1 + b2) * precision * recall, b2 * precision + recall)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """accuracy, precision, recall, specificity, f1, f2, g_mean and the confusion counts."""
    tn, fp, fn, tp = confusion(y_true, y_pred)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    return {"accuracy": _ratio(tp + tn, tp + tn + fp + fn), "precision": precision, "recall": recall,
            "specificity": specificity, "f1": f_beta(precision, recall, 1.0),
            "f2": f_beta(precision, recall, 2.0), "g_mean": math.sqrt(recall * specificity),
            "tn": tn, "fp": fp, "fn": fn, "tp": tp}
