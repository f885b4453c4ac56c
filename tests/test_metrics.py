import math

import numpy as np
import pytest

from shopfloor.fault_detection.metrics import classification_report


def test_f2_and_gmean_against_hand_computed_values():
    # tp=6, fn=2, fp=4, tn=88
    y_true = np.r_[np.ones(8), np.zeros(92)]
    y_pred = np.r_[np.ones(6), np.zeros(2), np.ones(4), np.zeros(88)]
    rep = classification_report(y_true, y_pred)
    assert (rep["tp"], rep["fn"], rep["fp"], rep["tn"]) == (6, 2, 4, 88)
    precision, recall = 0.6, 0.75
    assert rep["precision"] == pytest.approx(precision)
    assert rep["recall"] == pytest.approx(recall)
    assert rep["f2"] == pytest.approx(5 * 0.6 * 0.75 / (4 * 0.6 + 0.75))  # 0.714285...
    assert rep["f2"] == pytest.approx(0.7142857, abs=1e-6)
    assert rep["f1"] == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert rep["g_mean"] == pytest.approx(math.sqrt(0.75 * 88 / 92))
    assert rep["accuracy"] == pytest.approx(0.94)


def test_no_positive_predictions_gives_zero_not_nan():
    rep = classification_report(np.array([0, 1, 1]), np.array([0, 0, 0]))
    assert rep["precision"] == 0.0 and rep["f2"] == 0.0 and rep["g_mean"] == 0.0
