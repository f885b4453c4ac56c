"""Continuous retraining: drift detection, EnKF warm-start retraining of ResNets, and the retraining of the other
kinds of model (``kinds``: a health index, an anomaly detector, a wear prognosis)."""
