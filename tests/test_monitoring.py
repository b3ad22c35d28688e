"""Monitoring (settings/monitoring.py, components/monitoring.py, components/monitoring_rules.py): the
settings model's defaults and messages; under the mocks, the exporters' pods pass restricted-v2 and Pod
Security `restricted`, every manifest passes the policy pack, the ServiceMonitors and the PrometheusRule
validate against the Prometheus operator's CRDs, credentials come from Secrets only, the Elasticsearch
exporter verifies TLS against the mounted CA, and a tier given as None gets no exporter; with promtool
(scripts/build-promtool.sh), the rules parse and each alert fires on the series it is written for."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components import monitoring_rules as mr
from components.clearml_env import ElasticPeer, RedisPeer, SecretRef
from components.context import TierContext
from components.monitoring import ELASTICSEARCH_CA_FILE, Monitoring, MonitoringArgs, elasticsearch_exporter, redis_exporter
from policy.policies import violations
from policy.tls_verification import tls_verification_off
from settings.load import format_validation_error
from settings.models import ImageSettings
from settings.monitoring import MonitoringSettings
from tests.conftest import ROOT, assert_restricted_v2, deploy, env_of, pod_templates, unwrap
from tests.crds import validate

NS = "ml"
NAME = "clearml-monitoring"
MONGODB = SecretRef(name="clearml-mongodb", key="connection-string")
REDIS = RedisPeer(host="clearml-redis", port=6379, password=SecretRef(name="clearml-redis", key="password"))
ELASTIC = ElasticPeer(hosts=[{"host": "clearml-elastic", "port": 9200, "scheme": "https"}],
                      username=SecretRef(name="clearml-elastic", key="username"),
                      password=SecretRef(name="clearml-elastic", key="password"),
                      ca=SecretRef(name="clearml-elastic-tls", key="ca.crt"))
RUNBOOK = "https://git.example.com/ml/clearml-openshift/-/blob/main/README.md"
SETTINGS = MonitoringSettings.model_validate({
    "enabled": True, "labels": {"example.com/team": "ml"}, "alertLabels": {"team": "ml"}, "runbookUrl": RUNBOOK})
SERVICES = {"mongodb": f"{NAME}-mongodb", "redis": f"{NAME}-redis", "elasticsearch": f"{NAME}-elasticsearch"}
ALL = {"mongodb": MONGODB, "redis": REDIS, "elasticsearch": ELASTIC}


def _deploy(settings: MonitoringSettings = SETTINGS, **tiers: Any) -> Monitoring:
    context = TierContext(namespace=NS, images=ImageSettings.model_validate({"pullSecrets": ["mirror-pull"]}))
    return deploy(lambda: Monitoring(NAME, MonitoringArgs(context=context, settings=settings, **tiers)))


@pytest.fixture
def full(mocks):
    component = _deploy(**ALL)
    return {"component": component, "mocks": mocks}


def _manifests(mocks, kind: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: unwrap(r.inputs) for r in mocks.of_kind(kind)}


def _pod(mocks, tier: str) -> dict[str, Any]:
    return _manifests(mocks, "Deployment")[SERVICES[tier]]["spec"]["template"]["spec"]


def _rule_spec(mocks) -> dict[str, Any]:
    rules = _manifests(mocks, "PrometheusRule")
    assert list(rules) == [NAME]
    return rules[NAME]["spec"]


def _rules(mocks) -> list[dict[str, Any]]:
    return [rule for group in _rule_spec(mocks)["groups"] for rule in group["rules"]]


def _alerts(mocks) -> dict[tuple[str, str], dict[str, Any]]:
    """(alert, severity) -> rule."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for rule in _rules(mocks):
        key = (rule["alert"], rule["labels"]["severity"])
        assert key not in found, f"{key} twice"
        found[key] = rule
    return found


# ---- the settings model ----------------------------------------------------------------------------------


def test_defaults_are_off_pinned_and_consistent():
    m = MonitoringSettings()
    assert m.enabled is False
    assert m.mongodb_exporter_image.ref == "docker.io/percona/mongodb_exporter:0.53.0"
    assert m.redis_exporter_image.ref == "docker.io/oliver006/redis_exporter:v1.88.0"
    assert m.elasticsearch_exporter_image.ref == "quay.io/prometheuscommunity/elasticsearch-exporter:v1.11.0"
    assert (m.scrape_interval, m.scrape_timeout) == ("30s", "10s")
    assert (m.volume_warning_percent, m.volume_critical_percent) == (80, 90)
    assert (m.restarts, m.restarts_window, m.elasticsearch_not_green_for) == (3, "15m", "10m")
    assert m.resources.requests.memory == "64Mi" and m.resources.limits.memory == "128Mi"
    assert m.labels == {} and m.alert_labels == {}
    assert m.runbook("ClearMLVolumeNearlyFull") == "README.md#clearmlvolumenearlyfull"


def test_camel_case_keys_and_merging_over_defaults():
    m = MonitoringSettings.model_validate({
        "enabled": True, "scrapeInterval": "1m", "scrapeTimeout": "1m", "volumeWarningPercent": 70,
        "resources": {"limits": {"memory": "256Mi"}}, "redisExporterImage": {"tag": "v1.87.0"},
        "scheduling": {"nodeSelector": {"node-role.kubernetes.io/infra": ""}}})
    assert (m.scrape_interval, m.scrape_timeout, m.volume_warning_percent) == ("1m", "1m", 70)
    assert m.resources.limits.memory == "256Mi" and m.resources.requests.memory == "64Mi"
    assert m.redis_exporter_image.ref == "docker.io/oliver006/redis_exporter:v1.87.0"
    assert m.scheduling.node_selector == {"node-role.kubernetes.io/infra": ""}


BAD = [
    ({"volumeWarningPercent": 90, "volumeCriticalPercent": 85}, "volumeWarningPercent",
     r"must be lower than volumeCriticalPercent \(85\)"),
    ({"volumeCriticalPercent": 100}, "volumeCriticalPercent", "less than or equal to 99"),
    ({"volumeWarningPercent": 0}, "volumeWarningPercent", "greater than or equal to 1"),
    ({"scrapeTimeout": "1m"}, "scrapeTimeout", "longer than scrapeInterval 30s"),
    ({"scrapeInterval": "30"}, "scrapeInterval", "not a Prometheus duration"),
    ({"scrapeInterval": "0s"}, "scrapeInterval", "is zero"),
    ({"elasticsearchNotGreenFor": "ten minutes"}, "elasticsearchNotGreenFor", "not a Prometheus duration"),
    ({"restartsWindow": "2m"}, "restartsWindow", "shorter than 5m"),
    ({"restarts": 0}, "restarts", "greater than or equal to 1"),
    ({"mongodbExporterImage": {"tag": "latest"}}, "mongodbExporterImage.tag", "must be pinned"),
    ({"elasticsearchExporterImage": {"repository": "not a repo", "tag": "v1"}}, "elasticsearchExporterImage.repository",
     "is not an image repository"),
    ({"resources": {"requests": {"memory": "1Gi"}}}, "resources", r"limits.memory \(128Mi\) is lower than requests.memory"),
    ({"labels": {"app.kubernetes.io/name": "x"}}, "labels", "set by this program"),
    ({"labels": {"team": "not valid!"}}, "labels", "not a valid label value"),
    ({"labels": {"openshift.io/prometheus-rule-evaluation-scope": "leaf-prometheus"}}, "labels", "Thanos Ruler"),
    ({"alertLabels": {"severity": "page"}}, "alertLabels", "set on every alert"),
    ({"alertLabels": {"team-name": "ml"}}, "alertLabels", "not a Prometheus label name"),
    ({"alertLabels": {"team": ""}}, "alertLabels", "empty value"),
    ({"runbookUrl": "README.md#monitoring"}, "runbookUrl", "without an anchor"),
    ({"runbookUrl": "docs/runbooks.txt"}, "runbookUrl", "neither an http"),
    ({"scrapeIntervall": "30s"}, "scrapeIntervall", "unknown key"),
]


@pytest.mark.parametrize(("data", "key", "message"), BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_values_name_the_key_and_the_fix(data, key, message):
    with pytest.raises(ValidationError) as raised:
        MonitoringSettings.model_validate(data)
    problems = format_validation_error(raised.value)
    assert any(p.startswith(f"clearml-openshift:{key}: ") and re.search(message, p) for p in problems), problems


# ---- the objects ------------------------------------------------------------------------------------------


def test_one_exporter_service_and_service_monitor_per_tier_and_one_rule(full):
    mocks = full["mocks"]
    for kind in ("Deployment", "Service", "ServiceMonitor", "ServiceAccount"):
        assert sorted(_manifests(mocks, kind)) == sorted(SERVICES.values()), kind
    assert list(_manifests(mocks, "PrometheusRule")) == [NAME]
    component = full["component"]
    assert component.services == SERVICES and component.rule == NAME
    assert set(component.alerts) == {mr.VOLUME_NEARLY_FULL, mr.PODS_RESTARTING, mr.ELASTICSEARCH_NOT_GREEN,
                                     mr.MONGODB_NO_PRIMARY, mr.EXPORTER_DOWN, mr.DATA_SERVICE_UNREACHABLE}
    for r in mocks.resources:
        if r.typ.startswith("kubernetes:"):
            assert r.parent.endswith(f"clearml:monitoring:Monitoring::{NAME}"), r.name
            assert r.name.startswith(NAME), r.name
            assert unwrap(r.inputs)["metadata"]["namespace"] == NS, r.name


@pytest.mark.parametrize("scc_name", ["restricted-v2", "restricted-v2-release-4.16"])
@pytest.mark.parametrize("start", [1_000_680_000, 1_770_000_000])
def test_every_pod_passes_restricted_v2_in_a_random_uid_namespace_and_pod_security_restricted(full, scc_name, start):
    templates = pod_templates(full["mocks"].resources)
    assert sorted(name for name, _ in templates) == sorted(f"Deployment/{s}" for s in SERVICES.values())
    for name, spec in templates:
        assert "openshift.io/required-scc" not in spec["_annotations"], name
    assert_restricted_v2(templates, scc_name, start)


def test_pods_come_from_the_shared_builders(full):
    for tier in SERVICES:
        spec = _pod(full["mocks"], tier)
        assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, tier
        assert spec["enableServiceLinks"] is False and spec["automountServiceAccountToken"] is False, tier
        assert spec["serviceAccountName"] == SERVICES[tier], tier
        assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}], tier
        (container,) = spec["containers"]
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
            "readOnlyRootFilesystem": True, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, tier
        assert container["resources"] == {"requests": {"cpu": "10m", "memory": "64Mi"},
                                          "limits": {"cpu": "250m", "memory": "128Mi"}}, tier
        assert container["readinessProbe"]["httpGet"]["port"] == "metrics", tier
        assert container["livenessProbe"]["httpGet"]["port"] == "metrics", tier


def test_every_manifest_passes_the_policy_pack(full):
    judged = [r for r in full["mocks"].resources if r.typ.startswith("kubernetes:")]
    assert len(judged) == 4 * 3 + 1
    found = {f"{r.typ} {r.name}": violations(r.typ, unwrap(r.inputs)) for r in judged}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_policy_pack_bites_on_an_exporter_with_a_literal_credential(full):
    """The pack judges these manifests for real: the same Deployment with its URI written in fails."""
    deployment = copy.deepcopy(_manifests(full["mocks"], "Deployment")[SERVICES["mongodb"]])
    deployment["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "MONGODB_URI", "value": "mongodb://clearml-root:hunter2hunter2@clearml-mongodb:27017/"}]
    assert "no-literal-secrets" in violations("kubernetes:apps/v1:Deployment", deployment)


def test_service_monitors_and_the_rule_validate_against_the_crds(full):
    mocks = full["mocks"]
    checked = 0
    for kind in ("ServiceMonitor", "PrometheusRule"):
        for name, manifest in _manifests(mocks, kind).items():
            assert manifest["apiVersion"] == "monitoring.coreos.com/v1", name
            assert validate(manifest) == [], f"{kind} {name}"
            checked += 1
    assert checked == 4
    # The schemas are really applied: a misspelt endpoint field and a malformed duration are refused.
    monitor = copy.deepcopy(_manifests(mocks, "ServiceMonitor")[SERVICES["redis"]])
    monitor["spec"]["endpoints"][0]["scrapeTimeOut"] = "10s"
    assert any("scrapeTimeOut" in e for e in validate(monitor))
    rule = copy.deepcopy(_manifests(mocks, "PrometheusRule")[NAME])
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    assert any("does not match" in e for e in validate(rule))
    # The CRD's RE2 pattern `^(?i)(abort|warn)?$`, which Python's `re` reads only once tests/crds.py
    # has rewritten its inline flag.
    rule = copy.deepcopy(_manifests(mocks, "PrometheusRule")[NAME])
    rule["spec"]["groups"][0]["partial_response_strategy"] = "Warn"
    assert validate(rule) == []
    rule["spec"]["groups"][0]["partial_response_strategy"] = "ignore"
    assert any("partial_response_strategy" in e for e in validate(rule))


def test_service_monitors_scrape_each_exporters_metrics_service(full):
    mocks = full["mocks"]
    services = _manifests(mocks, "Service")
    for tier, name in SERVICES.items():
        monitor = _manifests(mocks, "ServiceMonitor")[name]
        assert monitor["metadata"]["labels"]["example.com/team"] == "ml"
        selector = monitor["spec"]["selector"]["matchLabels"]
        service = services[name]
        assert selector.items() <= service["metadata"]["labels"].items(), tier
        assert "namespaceSelector" not in monitor["spec"], "user-workload monitoring scrapes its own namespace"
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint == {"port": "metrics", "path": "/scrapeall" if tier == "mongodb" else "/metrics",
                            "scheme": "http", "interval": "30s", "scrapeTimeout": "10s"}, tier
        (port,) = service["spec"]["ports"]
        assert (port["name"], port["targetPort"]) == ("metrics", "metrics"), tier
        pod = _manifests(mocks, "Deployment")[name]["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items(), tier
        assert [p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]] == [port["port"]], tier


# ---- credentials and TLS ----------------------------------------------------------------------------------


def test_exporters_read_credentials_only_from_secrets(full):
    mocks = full["mocks"]
    envs = {tier: env_of(_pod(mocks, tier)["containers"][0]) for tier in SERVICES}
    assert envs["mongodb"] == {"MONGODB_URI": ("secret", "clearml-mongodb", "connection-string")}
    assert envs["redis"] == {"REDIS_ADDR": "redis://clearml-redis:6379", "REDIS_PASSWORD": ("secret", "clearml-redis", "password")}
    assert envs["elasticsearch"] == {"ES_USERNAME": ("secret", "clearml-elastic", "username"),
                                     "ES_PASSWORD": ("secret", "clearml-elastic", "password")}
    # Nothing else of the pods carries a credential: no args, no literal env value with one.
    for tier in SERVICES:
        container = _pod(mocks, tier)["containers"][0]
        assert not any("@" in a or "password" in a.lower() for a in container.get("args") or []), tier
    assert not mocks.of_kind("Secret") and not mocks.of_kind("ConfigMap")


def test_the_elasticsearch_exporter_verifies_tls_against_the_mounted_ca(full):
    spec = _pod(full["mocks"], "elasticsearch")
    container = spec["containers"][0]
    assert "--es.uri=https://clearml-elastic:9200" in container["args"]
    assert f"--es.ca={ELASTICSEARCH_CA_FILE}" in container["args"] and "--es.clusterinfo.interval=1m" in container["args"]
    assert not [a for a in container["args"] if "skip-verify" in a or "insecure" in a]
    (mount,) = container["volumeMounts"]
    assert mount == {"name": "elasticsearch-ca", "mountPath": ELASTICSEARCH_CA_FILE.rsplit("/", 1)[0], "readOnly": True}
    (volume,) = spec["volumes"]
    # Only the CA's key of the certificate Secret, never tls.key.
    assert volume["secret"] == {"secretName": "clearml-elastic-tls", "defaultMode": 0o444,
                                "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    assert tls_verification_off(json.dumps([unwrap(r.inputs) for r in full["mocks"].resources])) == []


def test_exporter_specifics(full):
    mongodb = _pod(full["mocks"], "mongodb")["containers"][0]
    # One directly connected target per member (a multi-host URI refuses the default direct connection),
    # with the members' states for the no-primary alert.
    assert {"--split-cluster", "--collector.replicasetstatus", "--collector.diagnosticdata"} <= set(mongodb["args"])
    redis = _pod(full["mocks"], "redis")["containers"][0]
    assert "--disable-scrape-endpoint" in redis["args"]
    assert [c["image"] for c in (mongodb, redis)] == ["docker.io/percona/mongodb_exporter:0.53.0",
                                                      "docker.io/oliver006/redis_exporter:v1.88.0"]


def test_unusable_peers_are_refused():
    no_ca = ElasticPeer(hosts=ELASTIC.hosts, username=ELASTIC.username, password=ELASTIC.password)
    with pytest.raises(ValueError, match="needs the CA of its certificate"):
        elasticsearch_exporter(no_ca, SETTINGS, "IfNotPresent")
    with pytest.raises(ValueError, match="both username and password"):
        elasticsearch_exporter(ElasticPeer(hosts=ELASTIC.hosts, username=ELASTIC.username, ca=ELASTIC.ca), SETTINGS,
                               "IfNotPresent")
    with pytest.raises(ValueError, match="pass redis=None for an external Redis"):
        redis_exporter(RedisPeer(host="redis.example.com", port=6380, tls=True), SETTINGS, "IfNotPresent")


# ---- tiers given as None ----------------------------------------------------------------------------------


def test_a_tier_given_as_none_gets_no_exporter(mocks):
    _deploy(redis=REDIS)
    for kind in ("Deployment", "Service", "ServiceMonitor", "ServiceAccount"):
        assert list(_manifests(mocks, kind)) == [SERVICES["redis"]], kind
    alerts = {rule["alert"] for rule in _rules(mocks)}
    assert alerts == {mr.VOLUME_NEARLY_FULL, mr.PODS_RESTARTING, mr.EXPORTER_DOWN, mr.DATA_SERVICE_UNREACHABLE}
    exprs = " ".join(rule["expr"] for rule in _rules(mocks))
    assert "mongodb" not in exprs and "elasticsearch" not in exprs
    assert f'service=~"{SERVICES["redis"]}"' in exprs


def test_no_in_cluster_data_tier_leaves_the_namespace_alerts(mocks):
    component = _deploy()
    assert not mocks.of_kind("Deployment") and not mocks.of_kind("ServiceMonitor")
    assert {rule["alert"] for rule in _rules(mocks)} == {mr.VOLUME_NEARLY_FULL, mr.PODS_RESTARTING}
    assert component.services == {}


# ---- the alerts -------------------------------------------------------------------------------------------


def test_each_alert_with_its_severity_runbook_and_annotations(full):
    alerts = _alerts(full["mocks"])
    assert set(alerts) == {
        (mr.VOLUME_NEARLY_FULL, "warning"), (mr.VOLUME_NEARLY_FULL, "critical"),
        (mr.ELASTICSEARCH_NOT_GREEN, "warning"), (mr.ELASTICSEARCH_NOT_GREEN, "critical"),
        (mr.MONGODB_NO_PRIMARY, "critical"), (mr.EXPORTER_DOWN, "warning"),
        (mr.DATA_SERVICE_UNREACHABLE, "critical"), (mr.PODS_RESTARTING, "warning")}
    for (alert, severity), rule in alerts.items():
        assert rule["labels"] == {"team": "ml", "severity": severity}, alert
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, alert
        assert annotations["runbook_url"] == f"{RUNBOOK}#{alert.lower()}", alert
        assert annotations["summary"] and len(annotations["description"]) > len(annotations["summary"]), alert
        assert f'namespace="{NS}"' in rule["expr"], f"{alert} is not scoped to the stack's namespace"


def test_alert_expressions(full):
    alerts = _alerts(full["mocks"])
    ns = f'namespace="{NS}"'

    def expr(alert: str, severity: str) -> str:
        return " ".join(alerts[(alert, severity)]["expr"].split())

    for severity, percent in (("warning", 80), ("critical", 90)):
        volume = expr(mr.VOLUME_NEARLY_FULL, severity)
        assert f"kubelet_volume_stats_available_bytes{{{ns}}} / kubelet_volume_stats_capacity_bytes{{{ns}}}" in volume
        assert volume.endswith(f"> {percent}") and alerts[(mr.VOLUME_NEARLY_FULL, severity)]["for"] == "5m"
    assert f'elasticsearch_cluster_health_status{{{ns},color="green"}}) == 0' in expr(mr.ELASTICSEARCH_NOT_GREEN, "warning")
    assert alerts[(mr.ELASTICSEARCH_NOT_GREEN, "warning")]["for"] == "10m"
    assert f'elasticsearch_cluster_health_status{{{ns},color="red"}}) == 1' in expr(mr.ELASTICSEARCH_NOT_GREEN, "critical")
    assert expr(mr.MONGODB_NO_PRIMARY, "critical") == (
        f"count by (namespace, rs_nm) (mongodb_members_state{{{ns}}}) unless "
        f"count by (namespace, rs_nm) (mongodb_members_state{{{ns}}} == 1)")
    assert expr(mr.EXPORTER_DOWN, "warning") == f'up{{{ns},service=~"{"|".join(SERVICES.values())}"}} == 0'
    unreachable = expr(mr.DATA_SERVICE_UNREACHABLE, "critical")
    assert all(f"{metric}{{{ns}}}) == 0" in unreachable for metric in ("mongodb_up", "redis_up", "elasticsearch_clusterinfo_up"))
    assert expr(mr.PODS_RESTARTING, "warning") == \
        f"round(increase(kube_pod_container_status_restarts_total{{{ns}}}[15m])) >= 3"


def test_thresholds_and_windows_come_from_the_settings(mocks):
    settings = SETTINGS.model_copy(update={"volume_warning_percent": 70, "volume_critical_percent": 95, "restarts": 5,
                                           "restarts_window": "1h", "elasticsearch_not_green_for": "30m"})
    _deploy(settings, elasticsearch=ELASTIC)
    alerts = _alerts(mocks)
    assert alerts[(mr.VOLUME_NEARLY_FULL, "warning")]["expr"].endswith("> 70")
    assert alerts[(mr.VOLUME_NEARLY_FULL, "critical")]["expr"].endswith("> 95")
    assert alerts[(mr.PODS_RESTARTING, "warning")]["expr"].endswith("[1h])) >= 5")
    assert alerts[(mr.ELASTICSEARCH_NOT_GREEN, "warning")]["for"] == "30m"


# ---- promtool: the rules parse, and each alert fires on what it is written for ------------------------------

PROMTOOL = ROOT / "build" / "promtool" / "promtool"
needs_promtool = pytest.mark.skipif(
    not PROMTOOL.is_file(),
    reason=f"{PROMTOOL.relative_to(ROOT)} is absent: build it with scripts/build-promtool.sh (Go, about 8 minutes)")


def _rules_file(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _promtool(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(PROMTOOL), *map(str, args)], capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_checks_the_rules(full, tmp_path):
    result = _promtool("check", "rules", _rules_file(tmp_path, _rule_spec(full["mocks"])))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


@needs_promtool
def test_promtool_refuses_a_broken_rule(full, tmp_path):
    """The check really parses the PromQL: one unbalanced parenthesis fails it."""
    spec = copy.deepcopy(_rule_spec(full["mocks"]))
    spec["groups"][0]["rules"][0]["expr"] += ")"
    result = _promtool("check", "rules", _rules_file(tmp_path, spec))
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def _expanded(rule: dict[str, Any], labels: dict[str, str], value: str) -> dict[str, str]:
    """The rule's annotations as Prometheus expands them, for the template forms the rules use."""
    out = {}
    for key, text in rule["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), text)
        out[key] = text.replace("{{ $value | humanize }}", value).replace("{{ $value }}", value)
    return out


def _case(rule: dict[str, Any], labels: dict[str, str], value: str) -> dict[str, Any]:
    return {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": _expanded(rule, labels, value)}


@needs_promtool
def test_promtool_each_alert_fires_on_its_series_and_only_there(full, tmp_path):
    alerts = _alerts(full["mocks"])
    pvc = {"namespace": NS, "persistentvolumeclaim": "data-clearml-mongodb-0"}
    volume = {"namespace": NS, "persistentvolumeclaim": "data-clearml-mongodb-0", "node": "worker-1"}
    other_ns = {**volume, "namespace": "other"}
    es = {"namespace": NS, "cluster": "clearml"}
    member = {"namespace": NS, "rs_nm": "rs0", "service": SERVICES["mongodb"]}
    target = {"namespace": NS, "service": SERVICES["redis"], "pod": "clearml-monitoring-redis-7d9f-abcde",
              "job": SERVICES["redis"], "instance": "10.128.2.17:9121"}
    restarting = {"namespace": NS, "pod": "clearml-apiserver-5f7d-xyz12", "container": "apiserver"}

    def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{name}{{{inner}}}", "values": values}

    def labels(rule_key: tuple[str, str], **extra: str) -> dict[str, Any]:
        return _case(alerts[rule_key], {k: v for k, v in extra.items() if k != "value"}, extra["value"])

    tests = [
        {   # 85 % used: the warning only; 95 % in another namespace: nothing.
            "interval": "1m",
            "input_series": [
                series("kubelet_volume_stats_available_bytes", volume, "15x20"),
                series("kubelet_volume_stats_capacity_bytes", volume, "100x20"),
                series("kubelet_volume_stats_available_bytes", other_ns, "5x20"),
                series("kubelet_volume_stats_capacity_bytes", other_ns, "100x20"),
            ],
            "alert_rule_test": [{"eval_time": "10m", "alertname": mr.VOLUME_NEARLY_FULL,
                                 "exp_alerts": [labels((mr.VOLUME_NEARLY_FULL, "warning"), **pvc, value="85")]}],
        },
        {   # 95 % used: warning and critical; not before the 5 minutes of `for`.
            "interval": "1m",
            "input_series": [series("kubelet_volume_stats_available_bytes", volume, "5x20"),
                             series("kubelet_volume_stats_capacity_bytes", volume, "100x20")],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": mr.VOLUME_NEARLY_FULL, "exp_alerts": []},
                {"eval_time": "10m", "alertname": mr.VOLUME_NEARLY_FULL,
                 "exp_alerts": [labels((mr.VOLUME_NEARLY_FULL, "warning"), **pvc, value="95"),
                                labels((mr.VOLUME_NEARLY_FULL, "critical"), **pvc, value="95")]}],
        },
        {   # Yellow for 15 minutes: the warning after 10; red: both.
            "interval": "1m",
            "input_series": [series("elasticsearch_cluster_health_status", {**es, "color": "green"}, "0x30"),
                             series("elasticsearch_cluster_health_status", {**es, "color": "yellow"}, "1x15 0x15"),
                             series("elasticsearch_cluster_health_status", {**es, "color": "red"}, "0x15 1x15")],
            "alert_rule_test": [
                {"eval_time": "8m", "alertname": mr.ELASTICSEARCH_NOT_GREEN, "exp_alerts": []},
                {"eval_time": "12m", "alertname": mr.ELASTICSEARCH_NOT_GREEN,
                 "exp_alerts": [labels((mr.ELASTICSEARCH_NOT_GREEN, "warning"), **es, value="0")]},
                {"eval_time": "25m", "alertname": mr.ELASTICSEARCH_NOT_GREEN,
                 "exp_alerts": [labels((mr.ELASTICSEARCH_NOT_GREEN, "warning"), **es, value="0"),
                                labels((mr.ELASTICSEARCH_NOT_GREEN, "critical"), **es, value="1")]}],
        },
        {   # Each member's view of a 3-member set: a primary until minute 10, then none.
            "interval": "1m",
            "input_series": [
                series("mongodb_members_state", {**member, "member_idx": f"m{i}:27017", "instance": f"m{j}:27017"},
                       ("1x10 2x10" if i == 0 else "2x20") if i != 2 else "8x20")
                for i in range(3) for j in range(3)],
            "alert_rule_test": [
                {"eval_time": "9m", "alertname": mr.MONGODB_NO_PRIMARY, "exp_alerts": []},
                {"eval_time": "15m", "alertname": mr.MONGODB_NO_PRIMARY,
                 "exp_alerts": [labels((mr.MONGODB_NO_PRIMARY, "critical"), namespace=NS, rs_nm="rs0", value="9")]}],
        },
        {   # A target that does not answer; its exporter's own `redis_up` stays 1 and MongoDB is unreachable.
            "interval": "1m",
            "input_series": [
                series("up", target, "0x10"),
                series("redis_up", target, "1x10"),
                series("mongodb_up", {"namespace": NS, "service": SERVICES["mongodb"], "instance": "m0:27017"}, "0x10"),
                series("mongodb_up", {"namespace": NS, "service": SERVICES["mongodb"], "instance": "m1:27017"}, "0x10"),
            ],
            "alert_rule_test": [
                {"eval_time": "8m", "alertname": mr.EXPORTER_DOWN,
                 "exp_alerts": [labels((mr.EXPORTER_DOWN, "warning"), **target, value="0")]},
                {"eval_time": "8m", "alertname": mr.DATA_SERVICE_UNREACHABLE,
                 "exp_alerts": [labels((mr.DATA_SERVICE_UNREACHABLE, "critical"), namespace=NS,
                                       service=SERVICES["mongodb"], value="0")]}],
        },
        {   # One restart a minute: fires; a steady container: nothing.
            "interval": "1m",
            "input_series": [series("kube_pod_container_status_restarts_total", restarting, "0+1x30"),
                             series("kube_pod_container_status_restarts_total", {**restarting, "container": "other"},
                                    "2x30")],
            "alert_rule_test": [{"eval_time": "20m", "alertname": mr.PODS_RESTARTING,
                                 "exp_alerts": [labels((mr.PODS_RESTARTING, "warning"), **restarting, value="15")]}],
        },
    ]
    rules = _rules_file(tmp_path, _rule_spec(full["mocks"]))
    unit = tmp_path / "tests.yaml"
    unit.write_text(yaml.safe_dump({"rule_files": [rules.name], "evaluation_interval": "1m", "tests": tests},
                                   sort_keys=False))
    result = _promtool("test", "rules", unit)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_script_puts_promtool_where_the_tests_look():
    script = ROOT / "scripts" / "build-promtool.sh"
    assert script.stat().st_mode & 0o111, "not executable"
    assert 'out_dir=${1:-$repo/build/promtool}' in script.read_text() and PROMTOOL.parent == ROOT / "build" / "promtool"


def test_every_alert_has_its_runbook_in_the_readme():
    """Each alert's runbook_url anchor is a heading of the README's "Runbooks" (kept true by this test)."""
    readme = (ROOT / "README.md").read_text()
    headings = {line[len("#### "):].strip() for line in readme.splitlines() if line.startswith("#### ")}
    spec = mr.prometheus_rule_spec(MonitoringSettings(enabled=True), "ml", mr.Scraped(mongodb="m", redis="r", elasticsearch="e"))
    names = set(mr.alert_names(spec))
    assert names and names <= headings, sorted(names - headings)


def test_the_exporter_stand_ins_are_the_exporters_at_the_pinned_versions():
    """scripts/images.sh builds the Redis and Elasticsearch exporters from their Go modules at the tags the
    settings pin, so the local cluster runs what a real cluster pulls (tests/engine/test_e2e_oadp_monitoring.py)."""
    built = dict(line.split("=", 1) for line in subprocess.run(
        [str(ROOT / "scripts" / "images.sh"), "names"], capture_output=True, text=True, check=True).stdout.split())
    pinned = MonitoringSettings()
    assert built["redis-exporter"].rsplit(":", 1)[1] == pinned.redis_exporter_image.tag
    assert built["elasticsearch-exporter"].rsplit(":", 1)[1] == pinned.elasticsearch_exporter_image.tag
