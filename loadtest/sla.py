"""Read Locust's CSV statistics and check them against a service-level agreement.

Defaults come from Dahdal et al. §IV-C: the 95th percentile under 56 ms, and no failed request.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SlaResult:
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p95_limit_ms: float
    max_error_rate: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0

    @property
    def passed(self) -> bool:
        return self.requests > 0 and self.p95_ms <= self.p95_limit_ms and self.error_rate <= self.max_error_rate

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (f"SLA {verdict}: {self.requests} requests, {self.rps:.0f} RPS, p50 {self.p50_ms:.0f} ms, "
                f"p95 {self.p95_ms:.0f} ms (limit {self.p95_limit_ms:g}), p99 {self.p99_ms:.0f} ms, "
                f"errors {self.error_rate:.2%} (limit {self.max_error_rate:.2%})")


def read_aggregated(stats_csv: str | Path) -> dict[str, str]:
    """The "Aggregated" row of Locust's ``<prefix>_stats.csv``."""
    with open(stats_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated":
                return row
    raise ValueError(f"{stats_csv}: no Aggregated row; did Locust send any request?")


def check(stats_csv: str | Path, p95_ms: float = 56.0, max_error_rate: float = 0.0) -> SlaResult:
    row = read_aggregated(stats_csv)
    requests = int(row["Request Count"])
    return SlaResult(requests=requests, failures=int(row["Failure Count"]), rps=float(row["Requests/s"]),
                     p50_ms=float(row["50%"]), p95_ms=float(row["95%"]), p99_ms=float(row["99%"]),
                     p95_limit_ms=p95_ms, max_error_rate=max_error_rate)
