"""Gradient-boosted trees as flat arrays, walked by one numba kernel: scikit-learn's ``HistGradientBoosting*``
models scored with its own float64 comparisons and its order of summing the trees, so the raw scores are its own
to the last bit, in microseconds instead of the milliseconds its per-call validation and thread pool cost a served
request. Used by the fault classifier's compiled path (``shopfloor.fault_detection.compiled``) and the health index's
remaining-life regressors (``shopfloor.health_index``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _adjacent(nodes: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """One tree's nodes re-laid breadth first so that a node's right child sits just after its left one: the
    order of the nodes in the flat arrays, and each node's left child there (-1 for a leaf), numbered from
    ``first``. A walk then moves by ``child + (goes right)``, with no branch on the direction."""
    order, child = [0], []
    position = {0: first}
    for node in order:  # grows as children are appended: a breadth-first pass
        if nodes["is_leaf"][node]:
            child.append(-1)
            continue
        left, right = int(nodes["left"][node]), int(nodes["right"][node])
        position[left], position[right] = first + len(order), first + len(order) + 1
        order += [left, right]
        child.append(position[left])
    return np.asarray(order, dtype=np.intp), np.asarray(child, dtype=np.intp)


_KERNEL = None


def _kernel():
    """The ensemble's raw score compiled by numba (on first use: about half a second). Trees outside, rows inside,
    so a batch walks each tree while it is in cache; each row's leaves are still added to the baseline in tree
    order, as scikit-learn adds them, so the sums are the same floats."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(nogil=True)
        def raw(x, roots, feature, threshold, missing_left, child, value, baseline, out):  # pragma: no cover
            out[:] = baseline
            for t in range(roots.shape[0]):
                for r in range(x.shape[0]):
                    i = roots[t]
                    while child[i] >= 0:
                        v = x[r, feature[i]]
                        # a missing value fails every comparison; it goes left where the node says so
                        i = child[i] + (not (v <= threshold[i]) and not (missing_left[i] and v != v))
                    out[r] += value[i]

        _KERNEL = raw
    return _KERNEL


class Forest:
    """Every tree of a binary ``HistGradientBoostingClassifier`` (or of a regressor) in flat arrays, scored by a
    numba kernel with the same float64 comparisons scikit-learn makes (``value <= threshold``, a missing value going
    where the node sends it) and the leaves summed in its order: the raw scores equal the model's own, bit for bit.

    Measured by ``benchmarks/serving_champion.py`` on the default champion (121 trees, 7,381 nodes, deepest 23),
    one row on one core, p50: 6.4 us here and 820 us for scikit-learn's ``_raw_predict`` in the same run; 24 us
    for the trees as generated Python code (one nested comparison per node, the earlier path, in the run before).
    numba comes with shap, already a dependency. ``walk`` is the same sum in plain numpy, one level at a time for
    every (row, tree) pair: the independent check of the kernel."""

    def __init__(self, model: Any) -> None:
        trees = [predictors[0].nodes for predictors in model._predictors]
        self.baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
        sizes = [len(t) for t in trees]
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        laid = [_adjacent(nodes, int(first)) for nodes, first in zip(trees, self.roots, strict=True)]
        order = np.concatenate([o + first for (o, _), first in zip(laid, self.roots, strict=True)])
        nodes = np.concatenate(trees)[order]
        self.child = np.concatenate([c for _, c in laid])
        leaf = self.child < 0
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold = np.where(leaf, np.inf, nodes["num_threshold"]).astype(np.float64)
        self.missing_left = np.where(leaf, True, nodes["missing_go_to_left"].astype(bool))
        self.value = nodes["value"].astype(np.float64)
        self.depth = int(nodes["depth"].max()) if len(nodes) else 0

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's raw score of each row of ``x``: log-odds for a classifier, the prediction itself for a
        regressor with the squared error."""
        x = np.ascontiguousarray(x, dtype=np.float64)  # one compiled signature: C-ordered float64 rows
        out = np.empty(len(x))
        args = (self.roots, self.feature, self.threshold, self.missing_left, self.child, self.value, self.baseline)
        _kernel()(x, *args, out)
        return out

    def walk(self, x: np.ndarray) -> np.ndarray:
        """``raw`` in numpy, one level at a time for every (row, tree) pair: a leaf stays where it is."""
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(self.roots, (len(x), len(self.roots)))
        for _ in range(self.depth):
            here = self.child[node]
            v = x[rows, self.feature[node]]
            right = ~((v <= self.threshold[node]) | (np.isnan(v) & self.missing_left[node]))
            node = np.where(here < 0, node, here + right)
        return self.baseline + self.value[node].sum(axis=1)


def regressor_predict(model: Any, x: np.ndarray, cache: dict[str, Any]) -> np.ndarray:
    """``model.predict(x)`` for a fitted ``HistGradientBoostingRegressor`` with the squared error (whose prediction is
    its raw score), through a ``Forest`` kept in ``cache`` for this very model (a refitted or replaced model gets a
    new one); any other model, or one with categorical splits, through its own ``predict``. Whether a model can take
    the flat trees is decided once, with its ``Forest``, not per call."""
    if cache.get("model") is not model:
        cache.update(model=model, forest=Forest(model) if _flat(model) else None)
    forest = cache["forest"]
    if forest is None:
        return np.asarray(model.predict(x), dtype=np.float64)
    return forest.raw(np.asarray(x, dtype=np.float64))


def _flat(model: Any) -> bool:
    """Whether ``model``'s prediction is exactly its trees' raw score in a ``Forest``."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    return (
        isinstance(model, HistGradientBoostingRegressor)
        and model.loss == "squared_error"
        and getattr(model, "_preprocessor", None) is None
        and not any(p[0].nodes["is_categorical"].any() for p in model._predictors)
    )
