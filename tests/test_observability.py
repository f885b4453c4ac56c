"""The alert rules pass Prometheus' own checker, and the generated manifest is the one in manifests/."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from serving.observability import PSI_ALERT, SLA_P95_SECONDS, alert_rules, dashboard, manifests, metric_names

ROOT = Path(__file__).resolve().parents[1]


def test_generated_observability_manifest_is_up_to_date():
    assert (ROOT / "manifests" / "base" / "observability.yaml").read_text() == manifests()


def test_dashboard_and_rules_cover_what_an_operator_watches():
    rules = {r["alert"]: r for g in alert_rules()["groups"] for r in g["rules"]}
    assert str(SLA_P95_SECONDS) in rules["ShopfloorLatencyAboveSLA"]["expr"]
    assert str(PSI_ALERT) in rules["ShopfloorFeatureDrift"]["expr"]
    assert "shopfloor_registry_alias_version" in rules["ShopfloorServedVersionNotAlias"]["expr"]
    assert 'status="5xx"' in rules["ShopfloorErrorRatio"]["expr"]
    titles = " ".join(p["title"] for p in dashboard()["panels"]).lower()
    for word in ("requests/s", "p95", "reason", "fault rate", "version", "reloads", "psi"):
        assert word in titles
    docs = list(yaml.safe_load_all(manifests()))
    assert docs[0]["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert docs[1]["kind"] == "PrometheusRule" and docs[1]["spec"] == alert_rules()
    assert metric_names('rate(shopfloor_responses_total{status="5xx"}[5m])') == {"shopfloor_responses_total"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed: apt-get install prometheus")
def test_alert_rules_pass_promtool(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(alert_rules()))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "sum(("}]}]}))
    assert subprocess.run(["promtool", "check", "rules", str(broken)], capture_output=True).returncode != 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed: apt-get install prometheus")
def test_live_quality_alert_fires_only_with_enough_labelled_answers(tmp_path):
    """promtool's rule unit test: live F2 0.5 against a registered 0.8 fires with 300 labelled answers,
    not with 50; a live error (rul_mae) above its registered figure is not compared."""
    from serving.observability import LIVE_QUALITY_MIN_ROWS

    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(alert_rules()))
    series = [
        ('shopfloor_live_quality{model="m",version="3",metric="f2"}', "0.5x40"),
        ('shopfloor_registered_quality{model="m",version="3",metric="f2"}', "0.8x40"),
        ('shopfloor_live_labelled_rows{model="m",version="3"}', f"{LIVE_QUALITY_MIN_ROWS + 100}x40"),
        ('shopfloor_live_quality{model="few",version="1",metric="f2"}', "0.1x40"),
        ('shopfloor_registered_quality{model="few",version="1",metric="f2"}', "0.8x40"),
        ('shopfloor_live_labelled_rows{model="few",version="1"}', "50x40"),
        ('shopfloor_live_quality{model="hi",version="1",metric="rul_mae"}', "90x40"),
        ('shopfloor_registered_quality{model="hi",version="1",metric="rul_mae"}', "10x40"),
        ('shopfloor_live_labelled_rows{model="hi",version="1"}', "500x40"),
    ]
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "ShopfloorLiveQualityBelowRegistered",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "model": "m", "version": "3", "metric": "f2"},
                                "exp_annotations": {
                                    "summary": alert_summary(
                                        "ShopfloorLiveQualityBelowRegistered", model="m", version="3", metric="f2"
                                    )
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    done = subprocess.run(["promtool", "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def alert_summary(name: str, **labels: str) -> str:
    """An alert's summary with its template filled for ``labels``."""
    summary = next(r for g in alert_rules()["groups"] for r in g["rules"] if r["alert"] == name)["annotations"][
        "summary"
    ]
    for key, value in labels.items():
        summary = summary.replace(f"{{{{ $labels.{key} }}}}", value)
    return summary


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed: apt-get install prometheus")
def test_unattended_run_alerts_fire_on_a_failed_run_and_on_a_missing_success(tmp_path):
    """As record_outcome writes them: retraining failed at minute 5 (its last success three days before), a
    health-index run succeeded. Fires: the failed run, and no success for two periods; not for health index."""
    from serving.observability import RETRAINING_PERIOD_SECONDS

    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(alert_rules()))
    three_days_ago = -3 * 86400
    series = [
        ('shopfloor_pipeline_last_run_success{pipeline="retraining"}', "1 1 1 1 1 0x30"),
        ('shopfloor_pipeline_last_run_timestamp_seconds{pipeline="retraining"}', "0x35"),
        ('shopfloor_pipeline_last_success_timestamp_seconds{pipeline="retraining"}', f"{three_days_ago}x35"),
        ('shopfloor_pipeline_last_run_success{pipeline="health-index"}', "1x35"),
        ('shopfloor_pipeline_last_success_timestamp_seconds{pipeline="health-index"}', f"{three_days_ago}x35"),
    ]
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    {"eval_time": "2m", "alertname": "ShopfloorPipelineRunFailed", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "ShopfloorPipelineRunFailed",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical", "pipeline": "retraining"},
                                "exp_annotations": {
                                    "summary": alert_summary("ShopfloorPipelineRunFailed", pipeline="retraining")
                                },
                            }
                        ],
                    },
                    {
                        "eval_time": "10m",
                        "alertname": "ShopfloorNoSuccessfulRetraining",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "pipeline": "retraining"},
                                "exp_annotations": {"summary": alert_summary("ShopfloorNoSuccessfulRetraining")},
                            }
                        ],
                    },
                ],
            }
        ],
    }
    assert 3 * 86400 > 2 * RETRAINING_PERIOD_SECONDS
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests))
    done = subprocess.run(["promtool", "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
