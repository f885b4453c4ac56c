"""Thresholds and cross-validated choice: hand-computed cases and a brute-force check."""

import numpy as np
import pytest

from shopfloor.errors import DataError
from shopfloor.fault_detection.metrics import classification_report
from shopfloor.fault_detection.selection import (
    best_threshold,
    cv_score,
    evaluate_at,
    folds,
    forward_folds,
    metric_curve,
)


def test_best_f2_threshold_by_hand():
    labels = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    proba = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.2, 0.1])
    # p >= 0.6: tp 3, fp 1, fn 0 -> P 0.75, R 1 -> F2 = 5*0.75/(3+1) = 0.9375 (the best)
    threshold, value = best_threshold(labels, proba, "f2")
    assert threshold == 0.6 and value == pytest.approx(0.9375)
    # F1 at 0.6: 2*0.75/1.75 = 0.857; at 0.8: P 1, R 2/3 -> 0.8: 0.6 again
    assert best_threshold(labels, proba, "f1") == (0.6, pytest.approx(6 / 7))


@pytest.mark.parametrize("metric", ["f1", "f2", "g_mean"])
def test_the_curve_equals_brute_force_with_ties(metric):
    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.1).astype(int)
    proba = np.round(rng.random(300) * 0.5 + 0.4 * labels, 2)  # rounded: many ties
    thresholds, values = metric_curve(labels, proba, metric)
    for t, v in zip(thresholds, values, strict=True):
        assert v == pytest.approx(classification_report(labels, (proba >= t).astype(int))[metric])
    assert len(thresholds) == len(np.unique(proba))


def test_cv_score_and_evaluation_at_a_threshold():
    labels = np.array([0, 0, 1, 1, 0, 1])
    proba = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    score = cv_score(labels, proba, "f2")
    assert score.threshold == 0.35 and score.score == pytest.approx(1.0 * 5 * 0.75 / (4 * 0.75 + 1.0))
    report = evaluate_at(labels, proba, 0.5)
    assert (report["tp"], report["fp"], report["threshold"]) == (2, 0, 0.5) and report["pr_auc"] > 0.8


def test_folds_are_stratified_repeated_and_reproducible():
    labels = np.r_[np.ones(12, int), np.zeros(88, int)]
    a, b = folds(labels, 5, 2, seed=3), folds(labels, 5, 2, seed=3)
    assert len(a) == 10 and all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    for fit, held in a:
        assert labels[held].sum() in (2, 3) and len(set(fit) & set(held)) == 0
    assert len(folds(np.r_[np.ones(3, int), np.zeros(50, int)], 5, 1)) == 3  # as many folds as faults allow


def test_forward_folds_hold_out_only_rows_after_the_ones_they_fit():
    labels = np.zeros(120, int)
    labels[[5, 15, 25, 45, 65, 85, 105]] = 1
    pairs = forward_folds(labels, 5)
    assert len(pairs) == 5
    for k, (fit, held) in enumerate(pairs):
        assert fit.max() < held.min() and np.array_equal(fit, np.arange(fit.max() + 1))
        assert labels[held].sum() >= 1 and labels[fit].sum() >= 2
        assert k == 0 or fit.max() > pairs[k - 1][0].max()  # the fitted rows grow forward
    labels[:40] = 0  # now one fault before row 60: folds fitted on fewer than two faults are skipped
    assert [held.min() for _, held in forward_folds(labels, 5)] == [80, 100]
    with pytest.raises(DataError, match="no forward-chaining fold"):
        forward_folds(np.r_[np.zeros(100, int), np.ones(5, int)], 5)


def test_unknown_threshold_metric_is_named():
    with pytest.raises(DataError, match="threshold-metric: must be one of"):
        best_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "auc")
