"""Continuous retraining: drift detection (and, to come, EnKF warm-start retraining of ResNets)."""
