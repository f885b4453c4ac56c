"""The cross-validated grid of candidates (method, amount of synthetic rows, classifier family) under a deadline.

Every candidate is fitted on each fold's training part and predicts its held-out part, as
``shopfloor.fault_detection.selection`` describes; this module decides which fits happen when time is short. The whole
grid runs when it fits before the deadline. When it does not, two rules cut it, both stated in the report:

* before each fold after the first, successive halving: while the candidates still in the grid, at their own pace
  so far, would end past the deadline, the worse half of them by pooled cross-validation score on the folds done
  is dropped (Jamieson and Talwalkar's successive halving, with folds as the resource);
* before each fit, a candidate whose fit, at its pace (or the pace of every fit so far, for a first fold), would
  end past the deadline is left out.

The ``protected`` candidates (the cheapest rival: the first classifier family without synthetic rows) are never
dropped, so a run always has a model to register. Candidates are compared only on the folds all of them completed:
whatever is left out has a reason in ``left_out``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.fault_detection.selection import CVScore, cv_score
from shopfloor.platform.budget import Pace


@dataclass(frozen=True)
class Candidate:
    """One cell of the grid: how the training rows are made (``method``: ``baseline``, ``class_weighted``,
    ``smote``, ``smote-FILTER`` or a synthesizer; ``ratio``: new minority rows as a share of the gap to balance,
    None for the methods that add none) and a classifier ``family``."""

    method: str
    family: str
    ratio: float | None = None

    @property
    def config(self) -> str:
        """``method[@ratio]``, as tables and MLflow name it."""
        return self.method if self.ratio is None else f"{self.method}@{self.ratio:g}"

    def name(self, several_families: bool) -> str:
        """``method[/family][@ratio]``, the family named only when several are compared."""
        base = self.method_name(several_families)
        return base if self.ratio is None else f"{base}@{self.ratio:g}"

    def method_name(self, several_families: bool) -> str:
        return f"{self.method}/{self.family}" if several_families else self.method


#: (held-out labels, held-out fault probabilities) of one candidate on one fold, or None when its fit failed.
FitPredict = Callable[[Candidate, Any], "tuple[np.ndarray, np.ndarray] | None"]


@dataclass
class GridResult:
    scores: dict[Candidate, CVScore]  # candidates that completed every fold
    left_out: dict[Candidate, str] = field(default_factory=dict)
    fits: int = 0
    seconds: dict[Candidate, float] = field(default_factory=dict)  # mean seconds of one fit


def run_grid(
    candidates: Sequence[Candidate],
    n_folds: int,
    fold: Callable[[int], Any],
    fit_predict: FitPredict,
    *,
    metric: str,
    protected: Sequence[Candidate] = (),
    left: Callable[[], float] = lambda: float("inf"),
) -> GridResult:
    """Cross-validate ``candidates`` over ``n_folds`` folds; ``fold(k)`` builds what fold ``k``'s fits share (built
    once per fold, one fold in memory at a time); ``left()`` is the seconds left before the deadline."""
    alive = list(candidates)
    pooled: dict[Candidate, tuple[list[np.ndarray], list[np.ndarray]]] = {c: ([], []) for c in candidates}
    pace = {c: Pace() for c in candidates}
    every = Pace()
    left_out: dict[Candidate, str] = {}
    fits = 0

    def partial(c: Candidate) -> CVScore | None:
        labels, proba = pooled[c]
        return cv_score(np.concatenate(labels), np.concatenate(proba), metric) if labels else None

    def drop(c: Candidate, reason: str) -> None:
        score = partial(c)
        done = len(pooled[c][0])
        seen = f" (CV {metric} {score.score:.3f} on {done} of {n_folds} folds)" if score else ""
        left_out[c] = reason + seen
        alive.remove(c)

    for k in range(n_folds):
        if k:
            so_far = {c: partial(c) for c in alive}  # pooled scores on the folds done, once per fold
            worse = {c: -(s.score if s else 0.0) for c, s in so_far.items()}.__getitem__
            _halve(
                alive, protected, pace, worse, drop, folds_left=n_folds - k, left=left, folds_done=k, n_folds=n_folds
            )
            # the best so far first: a deadline in the middle of a fold leaves out the weaker candidates
            alive.sort(key=lambda c: (c not in protected, worse(c)))
        context = fold(k)
        for c in list(alive):
            if c not in protected:
                expected = pace[c].each if pace[c].count else every.each
                if expected > left():
                    drop(
                        c,
                        f"left out by the time budget at fold {k + 1} of {n_folds}: one more fit takes about "
                        f"{expected:.1f} s, {max(0.0, left()):.1f} s were left",
                    )
                    continue
            begun = time.monotonic()
            out = fit_predict(c, context)
            fits += 1
            if out is None:  # its failure is recorded by the caller
                alive.remove(c)
                continue
            pace[c].add(time.monotonic() - begun)
            every.add(time.monotonic() - begun)
            pooled[c][0].append(out[0])
            pooled[c][1].append(out[1])
    scores = {c: s for c in alive if (s := partial(c)) is not None}
    return GridResult(scores, left_out, fits, {c: p.each for c, p in pace.items() if p.count})


def _halve(
    alive: list[Candidate],
    protected: Sequence[Candidate],
    pace: dict[Candidate, Pace],
    worse: Callable[[Candidate], float],
    drop: Callable[[Candidate, str], None],
    *,
    folds_left: int,
    left: Callable[[], float],
    folds_done: int,
    n_folds: int,
) -> None:
    """Drop the worse half of the unprotected candidates until the rest of the grid fits before the deadline."""
    while True:
        needed = sum(pace[c].each for c in alive) * folds_left
        extras = [c for c in alive if c not in protected]
        if needed <= left() or not extras:
            return
        ranked = sorted(extras, key=worse)
        for c in ranked[len(extras) // 2 :]:
            drop(
                c,
                f"dropped by successive halving after {folds_done} of {n_folds} folds: the grid's remaining "
                f"{folds_left} fold(s) needed about {needed:.0f} s, {max(0.0, left()):.0f} s were left",
            )
