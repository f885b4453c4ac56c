"""Read Locust's CSV statistics and check them against a service-level agreement.

Defaults come from Dahdal et al. §IV-C: the 95th percentile under 56 ms, and no failed request.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

#: A Locust process busier than this share of a core, or an achieved rate below this share of the offered
#: one, means the generator (not the server) set the pace.
SATURATED_CPU = 90.0
ACHIEVED_SHARE = 0.9


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
    offered_rps: float = 0.0
    generator_cpu: float = 0.0  # the busiest Locust process's CPU, % of one core (median over the run)
    processes: int = 1

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0

    @property
    def achieved_share(self) -> float:
        return self.rps / self.offered_rps if self.offered_rps else 1.0

    @property
    def generator_saturated(self) -> bool:
        """The generator set the pace: a Locust process near a full core, and the offered rate not reached."""
        return self.generator_cpu >= SATURATED_CPU and self.achieved_share < ACHIEVED_SHARE

    @property
    def passed(self) -> bool:
        """The SLA held: p95 within the limit, errors within the limit, and the offered rate achieved."""
        return (
            self.requests > 0
            and self.p95_ms <= self.p95_limit_ms
            and self.error_rate <= self.max_error_rate
            and self.achieved_share >= ACHIEVED_SHARE
        )

    def verdict(self) -> str:
        if self.passed:
            return "PASS"
        if self.generator_saturated:
            return "INCONCLUSIVE (load generator saturated)"
        return "FAIL"

    def summary(self) -> str:
        offered = (
            f"offered {self.offered_rps:.0f} RPS, achieved {self.rps:.0f}"
            if self.offered_rps
            else f"{self.rps:.0f} RPS"
        )
        line = (
            f"SLA {self.verdict()}: {self.requests} requests, {offered}, p50 {self.p50_ms:.0f} ms, "
            f"p95 {self.p95_ms:.0f} ms (limit {self.p95_limit_ms:g}), p99 {self.p99_ms:.0f} ms, "
            f"errors {self.error_rate:.2%} (limit {self.max_error_rate:.2%}); Locust: {self.processes} "
            f"process(es), busiest at {self.generator_cpu:.0f} % of a core"
        )
        if self.generator_saturated:
            line += " - the generator, not the server, limited this run"
        return line

    def to_dict(self) -> dict:
        return {
            "offered_rps": self.offered_rps,
            "achieved_rps": round(self.rps, 1),
            "requests": self.requests,
            "failures": self.failures,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "generator_cpu_percent": round(self.generator_cpu, 1),
            "generator_saturated": self.generator_saturated,
            "processes": self.processes,
            "passed": self.passed,
        }


def read_aggregated(stats_csv: str | Path) -> dict[str, str]:
    """The "Aggregated" row of Locust's ``<prefix>_stats.csv``."""
    with open(stats_csv, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("Name") == "Aggregated":
                return row
    raise ValueError(f"{stats_csv}: no Aggregated row; did Locust send any request?")


def check(
    stats_csv: str | Path,
    p95_ms: float = 56.0,
    max_error_rate: float = 0.0,
    offered_rps: float = 0.0,
    generator_cpu: float = 0.0,
    processes: int = 1,
) -> SlaResult:
    row = read_aggregated(stats_csv)
    requests = int(row["Request Count"])
    return SlaResult(
        requests=requests,
        failures=int(row["Failure Count"]),
        rps=float(row["Requests/s"]),
        p50_ms=float(row["50%"]),
        p95_ms=float(row["95%"]),
        p99_ms=float(row["99%"]),
        p95_limit_ms=p95_ms,
        max_error_rate=max_error_rate,
        offered_rps=offered_rps,
        generator_cpu=generator_cpu,
        processes=processes,
    )
