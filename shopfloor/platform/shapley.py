"""Shapley values of groups of inputs for models that no exact explainer covers (a health index over a unit's
sequence, a detector over signal windows): each group is a player that is either present (its real values) or
replaced by a baseline, and the ``shap`` library's permutation explainer shares out ``f(all present) - f(none)``.
Its values always sum to that difference exactly (the permutation estimator is efficient by construction); with
few groups they are the exact Shapley values, with more an estimate from antithetic permutations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EVALS_PER_GROUP = 20  # model calls per group: 2 x 10 permutations, so 16 sensors cost about 320 calls


def group_shapley(value_of: Callable[[np.ndarray], float], groups: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """(each group's Shapley value, the value with every group at its baseline) of ``value_of(present)``, where
    ``present`` is a 0/1 vector over the groups."""

    def values_of(masks: np.ndarray) -> np.ndarray:
        return np.array([value_of(mask) for mask in masks], dtype=np.float64)

    return masked_shapley(values_of, groups, seed)


def masked_shapley(
    values_of: Callable[[np.ndarray], np.ndarray], groups: int, seed: int = 0
) -> tuple[np.ndarray, float]:
    """``group_shapley`` for a model that scores many coalitions in one call: ``values_of(masks)`` takes a
    [coalitions, groups] boolean array (a batch of the permutation explainer's) and returns one value per row."""
    import shap

    def model(masks: np.ndarray) -> np.ndarray:
        return np.asarray(values_of(masks.astype(bool)), dtype=np.float64)

    explainer = shap.PermutationExplainer(model, shap.maskers.Independent(np.zeros((1, groups))), seed=seed)
    explained = explainer(np.ones((1, groups)), max_evals=EVALS_PER_GROUP * groups + 1, silent=True)
    return np.asarray(explained.values[0], dtype=np.float64), float(np.ravel(explained.base_values)[0])
