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
    rules = {r["alert"]: r for r in alert_rules()["groups"][0]["rules"]}
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


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool is not installed: apt-get install prometheus")
def test_alert_rules_pass_promtool(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(alert_rules()))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "sum(("}]}]}))
    assert subprocess.run(["promtool", "check", "rules", str(broken)], capture_output=True).returncode != 0
