"""The Grafana dashboard and the Prometheus alert rules of the model servers (Prometheus and Grafana from
MicroK8s' observability add-on), built from the metric names the server exports.

``python -m serving.observability`` writes ``manifests/base/observability.yaml``: a ConfigMap labelled
``grafana_dashboard: "1"`` (the add-on's Grafana sidecar loads every such ConfigMap) and a PrometheusRule
labelled for the add-on's Prometheus (``release: kube-prom-stack``). A test checks the rules with
``promtool check rules`` and that every metric named here is exported by a running server.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from shopfloor.constants import MIN_LABELLED_ROWS, NAMESPACE

#: The SLA of the serving benchmark (p95 of 56 ms at 20 users x 10 requests/s), as ``shopfloor loadtest``.
SLA_P95_SECONDS = 0.056
#: PSI above 0.25 is the usual "significant shift" line (0.1-0.25 moderate).
PSI_ALERT = 0.25
#: Share of 5xx answers that pages someone.
ERROR_RATIO_ALERT = 0.01
#: A predicted fault rate this many times its weekly level (and above FAULT_RATE_FLOOR) is a jump.
FAULT_RATE_JUMP = 3.0
FAULT_RATE_FLOOR = 0.01
#: Live quality this far below the test figure a version was registered with, over at least this many answers
#: with an outcome, is a model gone stale (scores where higher is better; errors such as ``rul_mae`` are not
#: compared with a fixed margin).
LIVE_QUALITY_MARGIN = 0.1
LIVE_QUALITY_MIN_ROWS = MIN_LABELLED_ROWS
#: How often retraining is scheduled (the documented nightly cron); no success in two periods is an alert.
RETRAINING_PERIOD_SECONDS = 86400

_LATENCY = "shopfloor_request_latency_seconds_bucket"


def _quantile(q: float, window: str = "5m", selector: str = "") -> str:
    match = f"{{{selector}}}" if selector else ""
    return f"histogram_quantile({q}, sum by (le, model) (rate({_LATENCY}{match}[{window}])))"


def _fault_rate(window: str, selector: str = "") -> str:
    """Share of scored rows whose whole-number output (class, anomaly) is 1."""
    extra, match = (f",{selector}", f"{{{selector}}}") if selector else ("", "")
    return (
        f'sum by (model) (rate(shopfloor_predictions_total{{value="1"{extra}}}[{window}])) '
        f"/ sum by (model) (rate(shopfloor_rows_scored_total{match}[{window}]))"
    )


def alert_rules() -> dict[str, Any]:
    """Prometheus rule groups (the ``spec`` of a PrometheusRule and a file promtool checks)."""

    def alert(name: str, expr: str, duration: str, severity: str, summary: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": duration,
            "labels": {"severity": severity},
            "annotations": {"summary": summary},
        }

    rules = [
        alert(
            "ShopfloorLatencyAboveSLA",
            f"{_quantile(0.95)} > {SLA_P95_SECONDS}",
            "5m",
            "warning",
            f"p95 latency of {{{{ $labels.model }}}} above the SLA of {SLA_P95_SECONDS * 1000:g} ms",
        ),
        alert(
            "ShopfloorErrorRatio",
            'sum by (model) (rate(shopfloor_responses_total{status="5xx"}[5m])) '
            f"/ sum by (model) (rate(shopfloor_responses_total[5m])) > {ERROR_RATIO_ALERT}",
            "5m",
            "critical",
            f"more than {ERROR_RATIO_ALERT:.0%} of the answers of {{{{ $labels.model }}}} are server errors",
        ),
        alert(
            "ShopfloorFaultRateJump",
            f"({_fault_rate('1h')}) > {FAULT_RATE_JUMP} * ({_fault_rate('7d')}) "
            f"and ({_fault_rate('1h')}) > {FAULT_RATE_FLOOR}",
            "30m",
            "warning",
            f"the predicted fault rate of {{{{ $labels.model }}}} is over {FAULT_RATE_JUMP:g}x its weekly level: "
            "the process or the sensors changed",
        ),
        alert(
            "ShopfloorServedVersionNotAlias",
            "max by (model) (shopfloor_served_version) != max by (model) (shopfloor_registry_alias_version)",
            "10m",
            "warning",
            "{{ $labels.model }} answers with another version than the registry's alias names",
        ),
        alert(
            "ShopfloorRegistryUnreachable",
            "time() - max by (model) (shopfloor_alias_check_last_success_timestamp_seconds) > 600 "
            'and on (model) increase(shopfloor_alias_checks_total{outcome="failed"}[10m]) > 0',
            "5m",
            "warning",
            "the server of {{ $labels.model }} has not reached the registry for 10 minutes (still serving)",
        ),
        alert(
            "ShopfloorFeatureDrift",
            f"max by (model, feature) (shopfloor_feature_psi) > {PSI_ALERT}",
            "15m",
            "warning",
            f"PSI of {{{{ $labels.feature }}}} for {{{{ $labels.model }}}} above {PSI_ALERT}: "
            "served rows drifted from the training rows; retrain",
        ),
        alert(
            "ShopfloorLiveQualityBelowRegistered",
            f'shopfloor_live_quality{{metric!~".*mae"}} < on (model, version, metric) '
            f"(shopfloor_registered_quality - {LIVE_QUALITY_MARGIN}) "
            f"and on (model, version) (shopfloor_live_labelled_rows >= {LIVE_QUALITY_MIN_ROWS})",
            "15m",
            "warning",
            f"live {{{{ $labels.metric }}}} of {{{{ $labels.model }}}} v{{{{ $labels.version }}}} is more than "
            f"{LIVE_QUALITY_MARGIN:g} below its registered test figure over at least {LIVE_QUALITY_MIN_ROWS} answers "
            "with an outcome: retrain",
        ),
    ]
    pipelines = [
        alert(
            "ShopfloorPipelineRunFailed",
            "shopfloor_pipeline_last_run_success == 0",
            "0m",
            "critical",
            "the last run of {{ $labels.pipeline }} failed (its step and error are in the run; on one machine in "
            "$SHOPFLOOR_HOME/metrics/pipeline_runs.jsonl)",
        ),
        alert(
            "ShopfloorNoSuccessfulRetraining",
            'time() - shopfloor_pipeline_last_success_timestamp_seconds{pipeline="retraining"} '
            f"> {2 * RETRAINING_PERIOD_SECONDS}",
            "0m",
            "warning",
            f"retraining has not succeeded for two schedule periods ({2 * RETRAINING_PERIOD_SECONDS // 3600} h): "
            "models may be going stale",
        ),
        alert(
            "ShopfloorRetrainingNeverSucceeded",
            'shopfloor_pipeline_last_run_timestamp_seconds{pipeline="retraining"} unless on (pipeline) '
            "shopfloor_pipeline_last_success_timestamp_seconds",
            f"{2 * RETRAINING_PERIOD_SECONDS}s",
            "warning",
            "retraining has run but never succeeded",
        ),
    ]
    return {
        "groups": [
            {"name": "shopfloor-model-servers", "rules": rules},
            {"name": "shopfloor-pipelines", "rules": pipelines},
        ]
    }


def _panel(
    pid: int,
    title: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    unit: str = "short",
    kind: str = "timeseries",
    w: int = 12,
) -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend} for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard() -> dict[str, Any]:
    """One Grafana dashboard, one row of panels per concern, filtered by a ``model`` variable."""
    sel = 'model=~"$model"'
    quantiles = [(_quantile(q, "1m", sel), f"p{int(q * 100)} {{{{model}}}}") for q in (0.5, 0.95, 0.99)]
    panels = [
        _panel(
            1,
            "Requests/s by protocol and status",
            [
                (
                    f"sum by (model, protocol, status) (rate(shopfloor_responses_total{{{sel}}}[1m]))",
                    "{{model}} {{protocol}} {{status}}",
                )
            ],
            0,
            0,
            "reqps",
        ),
        _panel(2, "Latency p50 / p95 / p99 (SLA p95 56 ms)", quantiles, 12, 0, "s"),
        _panel(
            3,
            "Rejected requests/s by reason (4xx, 413, 408)",
            [("sum by (reason) (rate(shopfloor_rejected_requests_total[5m]))", "{{reason}}")],
            0,
            8,
            "reqps",
        ),
        _panel(
            4,
            "Predicted fault rate (share of rows with class 1)",
            [(_fault_rate("15m", sel), "{{model}}")],
            12,
            8,
            "percentunit",
        ),
        _panel(
            5,
            "Served version vs the registry's alias",
            [
                (f"max by (model) (shopfloor_served_version{{{sel}}})", "served {{model}}"),
                (f"max by (model) (shopfloor_registry_alias_version{{{sel}}})", "alias {{model}}"),
            ],
            0,
            16,
        ),
        _panel(
            6,
            "Model reloads (per hour) and failed alias checks",
            [
                (f"sum by (model) (increase(shopfloor_model_reloads_total{{{sel}}}[1h]))", "reloads {{model}}"),
                (
                    f'sum by (model) (increase(shopfloor_alias_checks_total{{outcome="failed",{sel}}}[1h]))',
                    "failed checks {{model}}",
                ),
            ],
            12,
            16,
        ),
        _panel(
            7,
            f"Feature drift: PSI of the last served rows vs training (alert above {PSI_ALERT})",
            [(f"topk(10, shopfloor_feature_psi{{{sel}}})", "{{model}} {{feature}}")],
            0,
            24,
            w=24,
        ),
        _panel(
            8,
            "Rows scored/s",
            [(f"sum by (model) (rate(shopfloor_rows_scored_total{{{sel}}}[1m]))", "{{model}}")],
            0,
            32,
            "rowsps",
        ),
        _panel(
            11,
            "Requests answered together per turn of the event loop (mean; 1: each alone)",
            [
                (
                    f"sum by (model) (rate(shopfloor_requests_answered_together_sum{{{sel}}}[1m])) / "
                    f"sum by (model) (rate(shopfloor_requests_answered_together_count{{{sel}}}[1m]))",
                    "{{model}}",
                )
            ],
            12,
            32,
        ),
        _panel(
            9,
            "Live quality (answers with an outcome) vs the registered test figure",
            [
                (f"shopfloor_live_quality{{{sel}}}", "live {{metric}} {{model}} v{{version}}"),
                (
                    f"shopfloor_registered_quality{{{sel}}} and on (model, version, metric) shopfloor_live_quality",
                    "registered {{metric}} {{model}} v{{version}}",
                ),
            ],
            0,
            40,
        ),
        _panel(
            10,
            "Answers with an outcome, and the prediction log",
            [
                (f"shopfloor_live_labelled_rows{{{sel}}}", "labelled {{model}} v{{version}}"),
                (
                    f"sum by (model, outcome) (rate(shopfloor_prediction_log_rows_total{{{sel}}}[5m]))",
                    "log rows/s {{outcome}} {{model}}",
                ),
            ],
            12,
            40,
        ),
    ]
    return {
        "uid": "shopfloor-model-servers",
        "title": "Shopfloor model servers",
        "schemaVersion": 39,
        "tags": ["shopfloor", "kserve"],
        "timezone": "browser",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                {
                    "name": "model",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": "label_values(shopfloor_served_version, model)",
                    "includeAll": True,
                    "multi": True,
                    "current": {"text": "All", "value": "$__all"},
                    "refresh": 2,
                },
            ]
        },
        "panels": panels,
    }


def metric_names(text: str) -> set[str]:
    """Every ``shopfloor_*`` metric an expression (or a whole manifest) names."""
    return set(re.findall(r"\bshopfloor_[a-z_]+\b", text))


def manifests() -> str:
    """The ConfigMap of the dashboard and the PrometheusRule, as one YAML stream."""
    labels = {"app.kubernetes.io/part-of": "shopfloor"}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "shopfloor-grafana-dashboard",
            "namespace": NAMESPACE,
            "labels": {**labels, "grafana_dashboard": "1"},
        },
        "data": {"shopfloor-model-servers.json": json.dumps(dashboard(), indent=1)},
    }
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "shopfloor-model-servers",
            "namespace": NAMESPACE,
            "labels": {**labels, "release": "kube-prom-stack"},
        },
        "spec": alert_rules(),
    }
    head = "# Generated by `python -m serving.observability` (make manifests): do not edit by hand.\n"
    return head + yaml.dump_all([config_map, rule], Dumper=_BlockDumper, sort_keys=False, width=120)


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the dashboard's JSON) as literal blocks, so the manifest reads like the JSON."""


_BlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


if __name__ == "__main__":
    print(manifests(), end="")
