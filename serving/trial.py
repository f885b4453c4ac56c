"""A challenger on live traffic before it takes over: shadow or canary, on one machine.

``shopfloor serve --challenger shadow`` answers every request with ``@champion`` and also scores it with
``@challenger``: the challenger's answers go to the prediction log marked ``shadow`` (so its live quality is
measured on the same requests once outcomes come back) and are never returned. ``--challenger canary:10``
answers about 10 % of requests with the challenger instead, the version in the response's header and body.
The challenger is followed like the champion (same alias check); one that fails to load, or fails on a
request, never costs an answer: the champion answers, and a metric says why.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from shopfloor.constants import CHALLENGER
from shopfloor.errors import DataError

log = logging.getLogger("kserve")
SHADOW, CANARY = "shadow", "canary"

READY = Gauge("shopfloor_challenger_ready", "1 while a challenger version is loaded and on trial", ["model"])
LOAD_FAILURES = Counter(
    "shopfloor_challenger_load_failures_total",
    "Challenger versions that could not be loaded (the champion answers alone)",
    ["model", "reason"],
)
ROWS = Counter(
    "shopfloor_version_rows_total",
    "Rows scored per version and role (answered, canary, shadow)",
    ["model", "version", "role"],
)
ERRORS = Counter(
    "shopfloor_version_errors_total", "Requests a version failed to score, per role", ["model", "version", "role"]
)
LATENCY = Histogram(
    "shopfloor_version_scoring_seconds",
    "Time a version takes to score a request (model only)",
    ["model", "version", "role"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
)
AGREEMENT = Gauge(
    "shopfloor_challenger_agreement",
    "Share of shadow-scored rows on which the challenger's "
    "whole-number outputs (a class, an anomaly flag) equal the champion's",
    ["model", "champion", "challenger"],
)


@dataclass(frozen=True)
class TrialMode:
    kind: str  # shadow or canary
    percent: float = 0.0  # canary: the share of requests the challenger answers

    @classmethod
    def parse(cls, text: str) -> TrialMode:
        """``shadow`` or ``canary:PERCENT`` (0-100); ``DataError`` naming ``challenger`` otherwise."""
        if text == SHADOW:
            return cls(SHADOW)
        kind, _, share = text.partition(":")
        if kind == CANARY:
            try:
                percent = float(share)
            except ValueError:
                percent = -1.0
            if 0.0 <= percent <= 100.0:
                return cls(CANARY, percent)
            raise DataError("challenger", f"canary share must be a percentage from 0 to 100, got {share!r}")
        raise DataError("challenger", f"expected 'shadow' or 'canary:PERCENT', got {text!r}")


class Trial:
    """The challenger of one served model and how it takes part in answers."""

    def __init__(self, model_name: str, mode: TrialMode, seed: int | None = None) -> None:
        self.name, self.mode = model_name, mode
        self.loaded = None  # serving.model.Loaded of @challenger, when it loaded
        self.failed_version: str | None = None
        self._rng = random.Random(seed)
        self._agree = self._compared = 0
        READY.labels(model_name).set(0)

    def refresh(self, load) -> None:
        """Follow ``@challenger`` (``load(version)`` builds a Loaded); a failure leaves no challenger on trial."""
        from shopfloor.registry import champion_version

        try:
            found = champion_version(self.name, CHALLENGER)
        except Exception as exc:  # no challenger (yet), or the registry is away
            if self.loaded is not None and "no version with alias" in str(exc):
                log.info("%s has no @challenger any more: trial over", self.name)
                self.loaded = None
                READY.labels(self.name).set(0)
            return
        version = str(found.version)
        if (self.loaded is not None and self.loaded.version == version) or self.failed_version == version:
            return
        try:
            self.loaded = load(version, found.run_id)
            self.failed_version, self._agree, self._compared = None, 0, 0
            READY.labels(self.name).set(1)
            log.info("%s: challenger version %s on trial (%s)", self.name, version, self.mode.kind)
        except Exception as exc:  # the champion answers alone; the reason is counted
            self.loaded, self.failed_version = None, version
            READY.labels(self.name).set(0)
            LOAD_FAILURES.labels(self.name, type(exc).__name__).inc()
            log.exception(
                "challenger version %s of %s could not be loaded; the champion answers alone", version, self.name
            )

    def answers_this(self) -> bool:
        """Canary: whether this request goes to the challenger."""
        return self.mode.kind == CANARY and self.loaded is not None and self._rng.random() * 100.0 < self.mode.percent

    def shadow(self, champion, rows, results: dict, parse) -> tuple[object, dict] | None:
        """Score ``rows`` with the challenger beside the champion's ``results``; (Loaded, its results), or None
        when there is no challenger or it failed (counted)."""
        challenger = self.loaded
        if self.mode.kind != SHADOW or challenger is None:
            return None
        start = time.perf_counter()
        try:
            same = challenger.model.inputs == champion.model.inputs
            mine = challenger.model.predict_rows(rows if same else parse(challenger.model.inputs))
        except Exception:  # never costs the answer
            ERRORS.labels(self.name, challenger.version, SHADOW).inc()
            return None
        LATENCY.labels(self.name, challenger.version, SHADOW).observe(time.perf_counter() - start)
        ROWS.labels(self.name, challenger.version, SHADOW).inc(len(rows))
        whole = [o.name for o in champion.model.outputs if o.datatype in ("INT64", "INT32", "BOOL") and not o.shape]
        if whole and all(name in mine for name in whole):
            equal = np.all([np.asarray(results[n]) == np.asarray(mine[n]) for n in whole], axis=0)
            self._agree += int(np.sum(equal))
            self._compared += len(rows)
            AGREEMENT.labels(self.name, champion.version, challenger.version).set(self._agree / self._compared)
        return challenger, mine
