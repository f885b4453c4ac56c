"""Retraining a milling anomaly detector on new healthy cuts.

New rows are sub-cuts with the cut they come from and whether its tool failed: columns ``cut``, ``label``
(1: a failed tool) and ``subcut`` (a [window, signals] array of raw signals, as the model takes it), written
from the logged answers with their outcomes (``shopfloor.monitoring.training_rows.labelled_windows``) or by
hand as Parquet. The adaptation cuts are split again by cut: the detector learns from the healthy sub-cuts of
two thirds and its threshold is set on the other third (on all adaptation sub-cuts when that third lacks a
failed tool). How it learns follows the champion: a beta-VAE continues from the champion's weights for a few
epochs (von Hahn and Mechefske train on healthy windows only; a warm start keeps what the champion learned
from its own, larger, training set); the Mahalanobis and isolation-forest detectors are refitted on the new
healthy sub-cuts; the RMS detector picks its signal again on the threshold cuts. Champion and challenger are
scored on the held-out cuts by average precision (and precision and recall at their thresholds).
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_score, recall_score

from shopfloor.errors import DataError
from shopfloor.retraining.base import KindRetrainer, split_groups

CUT, LABEL, SUBCUT = "cut", "label", "subcut"


def windows(rows: pd.DataFrame) -> np.ndarray:
    """The ``subcut`` column as one (n, window, signals) float array."""
    return np.array([np.stack(list(w)) for w in rows[SUBCUT]], dtype=np.float64)


class DetectorRetrainer(KindRetrainer):
    KIND = "anomaly-detection"
    group = CUT
    positive = LABEL

    def log_rows(self, model: str, champion: Any, label: str, since: Any = None, root: Any = None) -> pd.DataFrame:
        from shopfloor.monitoring.training_rows import labelled_windows

        return labelled_windows(model, since, root)

    def read(self, path: str, champion: Any, label: str = "", time_column: str = "") -> pd.DataFrame:
        from shopfloor.data.ingest import read_table

        table = read_table(path)
        for column in (CUT, LABEL, SUBCUT):
            if column not in table.columns:
                raise DataError(
                    column, f"column not found in {path}: new sub-cuts need columns {CUT}, {LABEL}, {SUBCUT}"
                )
        if table.empty:
            raise DataError("data", "the new data have no rows")
        if not table[LABEL].isin([0, 1]).all():
            raise DataError(LABEL, "must be 0 (healthy tool) or 1 (failed tool)")
        shape = champion.inputs.shape
        try:
            found = windows(table)
        except (ValueError, TypeError) as exc:
            raise DataError(SUBCUT, f"each sub-cut must be a {list(shape)} array of numbers: {exc}"[:300]) from exc
        if found.shape[1:] != shape:
            raise DataError(
                SUBCUT,
                f"sub-cuts of shape {list(found.shape[1:])}; the champion takes {list(shape)} "
                f"(window, signals {', '.join(champion.inputs.signals)})",
            )
        if not np.isfinite(found).all():
            raise DataError(SUBCUT, "NaN and infinite values are not accepted")
        return table[[CUT, LABEL, SUBCUT]].assign(**{LABEL: table[LABEL].astype(int)})

    def split(
        self, rows: pd.DataFrame, champion: Any, holdout_size: float, seed: int
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        adapt, holdout = super().split(rows, champion, holdout_size, seed)
        if holdout[LABEL].nunique() < 2:
            raise DataError(
                LABEL,
                f"the held-out cuts need healthy and failed tools to score on; the new data hold "
                f"{rows.loc[rows[LABEL] == 1, CUT].nunique()} cut(s) of failed tools "
                "(two or more are needed)",
            )
        if not (adapt[LABEL] == 0).any():
            raise DataError(LABEL, "no healthy cut to learn from among the adaptation cuts")
        return adapt, holdout

    def summary(self, rows: pd.DataFrame, champion: Any) -> dict[str, Any]:
        failed = rows.loc[rows[LABEL] == 1, CUT].nunique()
        return {**super().summary(rows, champion), "failed_groups": int(failed), "windows": len(rows)}

    def challenger(
        self, champion: Any, adapt: pd.DataFrame, *, reference: pd.DataFrame | None, seed: int, settings: dict[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        from shopfloor.anomaly_detection.baselines import RMSDetector
        from shopfloor.anomaly_detection.detector import MillingAnomalyDetector, member
        from shopfloor.anomaly_detection.pyfunc import MillingAnomalyPyfunc
        from shopfloor.anomaly_detection.vae import fit_vae

        started = time.perf_counter()
        X, failed = windows(adapt), adapt[LABEL].to_numpy(int)
        learn, tune = split_groups(adapt[CUT], adapt[LABEL], 1 / 3, seed)
        where = "the adaptation cuts held out from learning"
        if len(np.unique(failed[tune])) < 2:
            tune, where = np.ones(len(adapt), dtype=bool), "all adaptation sub-cuts"
        both = len(np.unique(failed[tune])) == 2  # a threshold (and the RMS signal) can be chosen on them
        healthy = learn & (failed == 0)
        if not healthy.any():
            raise DataError(LABEL, "no healthy cut to learn from among the adaptation cuts")
        detector = copy.deepcopy(champion.detector)
        if isinstance(detector, MillingAnomalyDetector):
            epochs = int(settings.get("fine_tune_epochs", 20))
            scaled = detector.scaler_.transform(X[healthy])
            check = tune & (failed == 0)
            valid = detector.scaler_.transform(X[check]) if check.sum() >= 2 else None
            members = []
            for k, m in enumerate(detector.members_):
                config = replace(m.config, epochs=epochs)
                model, info = fit_vae(scaled, valid, config, seed=seed + k, start=m.model)
                members.append(member(model, m.config, info, scaled))
            detector.members_ = members
            how = f"warm start of the beta-VAE ({epochs} epochs at most)"
        elif isinstance(detector, RMSDetector):
            if both:
                detector.fit(X[healthy], X[tune], failed[tune], champion.inputs.signals)
            how = "RMS signal chosen again"
        else:
            detector.fit(X[healthy])
            how = f"refit of the {detector.name} detector"
        if both:
            detector.set_threshold(X[tune], failed[tune])
            how += f", threshold set on {where}"
        else:
            how += ", the champion's threshold kept (no failed tool to set it on)"
        challenger = MillingAnomalyPyfunc(
            detector, tuple(champion.inputs.signals), champion.stride, reference=getattr(champion, "reference", None)
        )
        return challenger, {
            "method": how,
            "detector": detector.name,
            "learned_windows": int(healthy.sum()),
            "threshold": float(detector.threshold_),
            "seconds": time.perf_counter() - started,
        }

    def score(self, model: Any, rows: pd.DataFrame) -> dict[str, float]:
        X, failed = windows(rows), rows[LABEL].to_numpy(int)
        score = model.detector.decision_function(X)
        flagged = (score >= model.detector.threshold_).astype(int)
        return {
            "ap": float(average_precision_score(failed, score)),
            "precision": float(precision_score(failed, flagged, zero_division=0)),
            "recall": float(recall_score(failed, flagged, zero_division=0)),
        }

    def example(self, rows: pd.DataFrame, model: Any) -> np.ndarray:
        return windows(rows.head(2)).astype(np.float32)
