"""Classifiers for imbalanced fault data and the metrics that matter for them."""
