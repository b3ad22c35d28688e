"""The settings model and loader, without Pulumi: good configs, and bad ones with their messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from settings import PROJECT, ConfigError, Settings, settings_from_config
from settings.quantities import parse_quantity

P = PROJECT


def _base_config(**overrides: Any) -> dict[str, str]:
    """A valid stack config as Pulumi hands it to the program; `overrides` replace whole top-level keys."""
    values: dict[str, Any] = {"hosts": {"baseDomain": "apps.example.com"}}
    values.update(overrides)
    return {f"{P}:{key}": (v if isinstance(v, str) else json.dumps(v)) for key, v in values.items()}


def _problems(config: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from_config(config)
    assert str(caught.value).startswith("invalid stack configuration (nothing was deployed):")
    return caught.value.problems


# --------------------------------------------------------------------------------------------
# Good configs
# --------------------------------------------------------------------------------------------


def test_minimal_config_uses_documented_defaults():
    settings = settings_from_config(_base_config())
    assert settings.namespace.name == "clearml"
    assert settings.public_urls == {
        "app": "https://clearml-app.apps.example.com",
        "api": "https://clearml-api.apps.example.com",
        "files": "https://clearml-files.apps.example.com",
    }
    assert settings.mongodb.replicas == 1 and settings.elasticsearch.replicas == 1
    assert settings.storage.retain_on_delete is True
    assert settings.cookie_domain == "apps.example.com"
    for image in (settings.images.clearml, settings.images.mongodb, settings.images.redis, settings.images.elasticsearch):
        assert image.tag != "latest" and ":" in image.ref


def test_explicit_hosts_without_base_domain():
    settings = settings_from_config(_base_config(hosts={"app": "ml.example.org", "api": "api.ml.example.org",
                                                        "files": "files.ml.example.org"}))
    assert settings.public_hosts["api"] == "api.ml.example.org"
    assert settings.cookie_domain is None


def test_derived_hosts_follow_the_namespace():
    settings = settings_from_config(_base_config(namespace={"name": "team-a"}))
    assert settings.public_hosts["files"] == "team-a-files.apps.example.com"


def test_keys_of_other_namespaces_are_ignored():
    config = _base_config()
    config["kubernetes:context"] = "my-cluster"
    assert settings_from_config(config).namespace.name == "clearml"


def test_image_digest_wins_over_tag():
    digest = "sha256:" + "a" * 64
    settings = settings_from_config(_base_config(images={"redis": {"repository": "docker.io/library/redis",
                                                                   "tag": "8.2.3", "digest": digest}}))
    assert settings.images.redis.ref == f"docker.io/library/redis@{digest}"


def test_per_volume_class_overrides_the_default_class():
    settings = settings_from_config(_base_config(storage={"className": "standard"},
                                                 mongodb={"storage": {"size": "1Gi", "className": "fast"}}))
    assert settings.storage.class_for(settings.mongodb.storage) == "fast"
    assert settings.storage.class_for(settings.redis.storage) == "standard"


def test_settings_are_immutable():
    settings = settings_from_config(_base_config())
    with pytest.raises(ValidationError, match="frozen"):
        settings.namespace = None  # type: ignore[misc]


@pytest.mark.parametrize("text,expected", [("500m", "0.5"), ("2", "2"), ("1Gi", str(2**30)), ("1.5G", "1500000000")])
def test_quantities(text, expected):
    assert str(parse_quantity(text).normalize()) == str(parse_quantity(expected).normalize())


# --------------------------------------------------------------------------------------------
# Bad configs: each names the key and says what is wrong
# --------------------------------------------------------------------------------------------

BAD_CONFIGS = [
    pytest.param(_base_config(mongodb={"replicas": "three"}), f"{P}:mongodb.replicas", "valid integer", id="wrong-type-int"),
    pytest.param(_base_config(edge={"termination": "passthrough"}), f"{P}:edge.termination",
                 "passthrough is impossible: ClearML's pods serve plain HTTP; use edge or reencrypt", id="passthrough"),
    pytest.param(_base_config(namespace={"create": "maybe"}), f"{P}:namespace.create", "valid boolean", id="wrong-type-bool"),
    pytest.param(_base_config(hosts={"baseDomain": "Apps.Example.com"}), f"{P}:hosts.baseDomain", "lower case", id="uppercase-host"),
    pytest.param(_base_config(hosts={"baseDomain": "apps_example.com"}), f"{P}:hosts.baseDomain", "alphanumeric", id="underscore-host"),
    pytest.param(_base_config(hosts={"baseDomain": "example.com."}), f"{P}:hosts.baseDomain", "must not end with a dot", id="trailing-dot"),
    pytest.param(_base_config(hosts={"baseDomain": ("a" * 64) + ".com"}), f"{P}:hosts.baseDomain", "longer than 63", id="long-label"),
    pytest.param(_base_config(hosts={"baseDomain": ".".join(["abcdefghij"] * 24)}), f"{P}:hosts.baseDomain", "longer than 253", id="long-host"),
    pytest.param(_base_config(namespace={"name": "x" * 60}), f"{P}:hosts", "longer than 63", id="derived-host-too-long"),
    pytest.param(_base_config(hosts={}), f"{P}:hosts", "set baseDomain, or all of app, api and files", id="no-hosts"),
    pytest.param(_base_config(hosts={"app": "a.example.com", "api": "a.example.com", "files": "f.example.com"}),
                 f"{P}:hosts", "three different hosts", id="duplicate-hosts"),
    pytest.param({}, f"{P}:hosts", "required value is missing", id="missing-required"),
    pytest.param(_base_config(fileserver={"storage": {"size": "0Gi"}}), f"{P}:fileserver.storage.size", "greater than zero", id="zero-size"),
    pytest.param(_base_config(redis={"storage": {"size": "-5Gi"}}), f"{P}:redis.storage.size", "not a Kubernetes quantity", id="negative-size"),
    pytest.param(_base_config(mongodb={"storage": {"size": "100"}}), f"{P}:mongodb.storage.size", "smaller than 1Mi", id="bytes-not-gib"),
    pytest.param(_base_config(apiserver={"replicas": 0}), f"{P}:apiserver.replicas", "greater than or equal to 1", id="zero-replicas"),
    pytest.param(_base_config(mongodb={"replicas": 2}), f"{P}:mongodb.replicas", "odd number of voting members", id="mongo-even"),
    pytest.param(_base_config(elasticsearch={"replicas": 2}), f"{P}:elasticsearch.replicas", "3 to 7 nodes", id="es-two-nodes"),
    pytest.param(_base_config(redis={"replicas": 3}), f"{P}:redis.replicas", "Input should be 1", id="redis-replicated"),
    pytest.param(_base_config(fileserver={"replicas": 2}), f"{P}:fileserver", "ReadWriteMany", id="fileserver-rwo-replicas"),
    pytest.param(_base_config(bogus=1), f"{P}:bogus", "unknown key", id="unknown-top-level-key"),
    pytest.param(_base_config(redis={"replicaCount": 1}), f"{P}:redis.replicaCount", "unknown key", id="unknown-nested-key"),
    pytest.param(_base_config(images={"clearml": {"repository": "docker.io/clearml/server", "tag": "latest"}}),
                 f"{P}:images.clearml.tag", "not a pinned tag", id="latest-tag"),
    pytest.param(_base_config(images={"mongodb": {"repository": "Docker.io/Mongo", "tag": "8.0.15"}}),
                 f"{P}:images.mongodb.repository", "not an image repository", id="bad-repository"),
    pytest.param(_base_config(images={"elasticsearch": {"repository": "docker.elastic.co/elasticsearch/elasticsearch", "tag": "7.17.3"}}),
                 f"{P}:images.elasticsearch", "needs Elasticsearch 8.x", id="es-7"),
    pytest.param(_base_config(apiserver={"resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}),
                 f"{P}:apiserver.resources", "limits.cpu (1) is lower than requests.cpu (2)", id="limit-below-request"),
    pytest.param(_base_config(webserver={"resources": {"requests": {"cpu": "1core", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}),
                 f"{P}:webserver.resources.requests.cpu", "not a Kubernetes quantity", id="bad-quantity"),
    pytest.param(_base_config(elasticsearch={"heap": "2g"}), f"{P}:elasticsearch", "more than half of the memory limit", id="es-heap-too-big"),
    pytest.param(_base_config(elasticsearch={"heap": "2GB"}), f"{P}:elasticsearch.heap", "not a JVM heap size", id="es-heap-format"),
    pytest.param(_base_config(elasticsearch={"external": {"hosts": []}}), f"{P}:elasticsearch.external.hosts", "at least 1 item", id="es-external-empty"),
    pytest.param(_base_config(elasticsearch={"external": {"hosts": [{"host": "es.example.com", "scheme": "ftp"}]}}),
                 f"{P}:elasticsearch.external.hosts[0].scheme", "'http' or 'https'", id="es-external-scheme"),
    pytest.param(_base_config(elasticsearch={"external": {"hosts": [{"host": "es.example.com"}],
                                                          "username": {"name": "es", "key": "user"}}}),
                 f"{P}:elasticsearch.external", "set both username and password", id="es-half-credentials"),
    pytest.param(_base_config(redis={"external": {"host": "redis.example.com", "port": 70000}}),
                 f"{P}:redis.external.port", "less than or equal to 65535", id="redis-port-range"),
    pytest.param(_base_config(mongodb={"external": {"connectionString": {"name": "Mongo", "key": "uri"}}}),
                 f"{P}:mongodb.external.connectionString.name", "lower case", id="secret-ref-name"),
    pytest.param(_base_config(storage={"className": "Fast_SSD"}), f"{P}:storage.className", "lower case", id="storage-class"),
    pytest.param(_base_config(namespace="clearml"), f"{P}:namespace", "expected an object (a YAML mapping of settings), got a plain string", id="text-for-object"),
    # mistakes that used to pass silently
    pytest.param(_base_config(fileserver={"storage": {"size": 50}}), f"{P}:fileserver.storage.size",
                 'write the quantity as a quoted string with its unit, e.g. "50Gi"', id="yaml-number-size"),
    pytest.param(_base_config(apiserver={"resources": {"requests": {"memory": 512}}}), f"{P}:apiserver.resources.requests.memory",
                 'e.g. "512Mi"', id="yaml-number-memory"),
    pytest.param(_base_config(apiserver={"resources": {"requests": {"cpu": "500M"}}}), f"{P}:apiserver.resources.requests.cpu",
                 "'500M' is 500,000,000 cores; CPU is counted in cores or millicores: did you mean '500m' (millicores)?",
                 id="cpu-mega"),
    pytest.param(_base_config(webserver={"resources": {"limits": {"memory": "256m"}}}), f"{P}:webserver.resources.limits.memory",
                 "did you mean '256Mi'?", id="memory-milli"),
    pytest.param(_base_config(webserver={"resources": {"limits": {"memory": "1000"}}}), f"{P}:webserver.resources.limits.memory",
                 "less than 1Mi", id="memory-bytes"),
    pytest.param(_base_config(hosts={"baseDomain": "apps.example.com", "cookieDomain": "example.org"}),
                 f"{P}:hosts.cookieDomain", "login would fail", id="cookie-domain-unrelated"),
    pytest.param(_base_config(hosts={"app": "ml.a.com", "api": "api.b.com", "files": "files.a.com", "cookieDomain": "a.com"}),
                 f"{P}:hosts.cookieDomain", "does not contain api.b.com", id="cookie-domain-partial"),
    pytest.param(_base_config(scc={"grants": {"agent": "nonroot-v2"}, "identities": {"agent": {"runAsUser": 1000}}}), f"{P}:scc.grants.agent",
                 "agent is not deployed in the cluster by this stack", id="grant-for-disabled-agent"),
    pytest.param(_base_config(features={"asyncDelete": False}, scc={"grants": {"asyncDelete": "nonroot-v2"}, "identities": {"asyncDelete": {"runAsUser": 1000}}}),
                 f"{P}:scc.grants.asyncDelete", "so the grant would do nothing", id="grant-for-disabled-async-delete"),
    pytest.param(_base_config(mongodb={"external": {"connectionString": {"name": "m", "key": "uri"}}},
                              scc={"grants": {"mongodb": "nonroot-v2"}, "identities": {"mongodb": {"runAsUser": 1000}}}),
                 f"{P}:scc.grants.mongodb", "not deployed in the cluster", id="grant-for-external-tier"),
    pytest.param(_base_config(mongodb={"replicas": 3, "external": {"connectionString": {"name": "m", "key": "uri"}}}),
                 f"{P}:mongodb.replicas", "replicas only applies to the in-cluster MongoDB, and external is set", id="external-mongodb-replicas"),
    pytest.param(_base_config(redis={"storage": {"size": "1Gi"}, "resources": {}, "external": {"host": "r.example.com"}}),
                 f"{P}:redis.resources", "resources and storage only apply to the in-cluster Redis", id="external-redis-settings"),
    pytest.param(_base_config(elasticsearch={"heap": "2g", "external": {"hosts": [{"host": "es.example.com"}]}}),
                 f"{P}:elasticsearch.heap", "heap only applies to the in-cluster Elasticsearch", id="external-es-heap"),
    pytest.param(_base_config(namespace={"name": "default"}), f"{P}:namespace.name", "is a system namespace", id="namespace-default"),
    pytest.param(_base_config(namespace={"name": "openshift-monitoring"}), f"{P}:namespace.name", "system namespace", id="namespace-openshift"),
    pytest.param(_base_config(namespace={"name": "kube-system"}), f"{P}:namespace.name", "system namespace", id="namespace-kube"),
    pytest.param(_base_config(namespace=3), f"{P}:namespace", "valid dictionary", id="number-for-object"),
    pytest.param(_base_config(hosts="{not json"), f"{P}:hosts", "expected an object", id="not-json"),
    # edge and TLS: combinations OpenShift or cert-manager would reject
    pytest.param(_base_config(edge={"termination": "passthrough", "path": "/x"}), f"{P}:edge.termination",
                 "ClearML's pods serve plain HTTP", id="passthrough-with-path"),
    pytest.param(_base_config(edge={"destinationCaCertificate": "-----BEGIN CERTIFICATE-----\nX"}), f"{P}:edge",
                 "only used with reencrypt, not edge", id="destination-ca-with-edge"),
    pytest.param(_base_config(edge={"termination": "reencrypt"}, tls={"exportCaCertificate": False}), f"{P}:edge",
                 "needs tls.exportCaCertificate", id="reencrypt-without-ca"),
    pytest.param(_base_config(edge={"termination": "reencrypt"}, tls={"internalIssuer": {"name": "corp"}}), f"{P}:edge",
                 "needs destinationCaCertificate", id="reencrypt-unknown-ca"),
    pytest.param(_base_config(edge={"path": "api"}), f"{P}:edge.path", "must start with '/'", id="route-path"),
    pytest.param(_base_config(edge={"timeout": "30 s"}), f"{P}:edge.timeout", "router timeout", id="router-timeout"),
    pytest.param(_base_config(edge={"hsts": "includeSubDomains"}), f"{P}:edge.hsts", "max-age", id="hsts"),
    pytest.param(_base_config(edge={"ipAllowlist": ["10.0.0.0/33"]}), f"{P}:edge.ipAllowlist", "IP address or CIDR", id="allowlist"),
    pytest.param(_base_config(edge={"mode": "ingress", "termination": "reencrypt"}, tls={"internalIssuer": {"name": "c"}}),
                 f"{P}:edge", "edge termination only", id="ingress-reencrypt"),
    pytest.param(_base_config(edge={"ingressClassName": "nginx"}), f"{P}:edge", "only used with mode ingress", id="class-with-routes"),
    pytest.param(_base_config(tls={"duration": "30m"}), f"{P}:tls", "minimum of 1h", id="cert-too-short"),
    pytest.param(_base_config(tls={"renewBefore": "2160h"}), f"{P}:tls", "less than duration", id="renew-after-expiry"),
    pytest.param(_base_config(tls={"duration": "90d"}), f"{P}:tls.duration", "not a duration", id="duration-format"),
    pytest.param(_base_config(tls={"privateKey": {"algorithm": "ECDSA", "size": 2048}}), f"{P}:tls.privateKey",
                 "not valid for ECDSA", id="key-size"),
    pytest.param(_base_config(tls={"routeIssuer": {"name": "LetsEncrypt"}}), f"{P}:tls.routeIssuer.name", "lower case", id="issuer-name"),
    # SCC grants: refused unless acknowledged, and only built-in SCCs of OpenShift 4.11+
    pytest.param(_base_config(scc={"grants": {"redis": "anyuid"}}), f"{P}:scc", "refused unless scc.acknowledge lists 'anyuid'", id="anyuid"),
    pytest.param(_base_config(scc={"grants": {"elasticsearch": "privileged"}}), f"{P}:scc", "lists 'privileged'", id="privileged"),
    pytest.param(_base_config(scc={"grants": {"agent": "hostnetwork-v2"}}), f"{P}:scc", "reach the host", id="host-access"),
    pytest.param(_base_config(scc={"grants": {"redis": "my-scc"}}), f"{P}:scc", "not a built-in SCC", id="custom-scc"),
    pytest.param(_base_config(scc={"grants": {"redis": "restricted-v2"}}), f"{P}:scc", "remove the grant", id="redundant-grant"),
    pytest.param(_base_config(scc={"grants": {"nginx": "nonroot-v2"}}), f"{P}:scc.grants.nginx", "Input should be 'apiserver'", id="unknown-tier"),
    pytest.param(_base_config(scc={"acknowledge": ["anyuid"]}), f"{P}:scc", "which no tier is granted", id="stale-ack"),
    pytest.param(_base_config(networkPolicies={"routerNamespaceLabels": {}}), f"{P}:networkPolicies.routerNamespaceLabels",
                 "matches every namespace", id="empty-router-selector"),
    pytest.param(_base_config(agent={"queue": "my queue"}), f"{P}:agent.queue", "not a queue name", id="agent-queue"),
    pytest.param(_base_config(agent={"maxPods": 0}), f"{P}:agent.maxPods", "greater than or equal to 1", id="agent-max-pods"),
    pytest.param(_base_config(features={"prepopulateExamples": True}), f"{P}:fileserver",
                 "set fileserver.storage.accessMode: ReadWriteMany", id="examples-on-a-private-volume"),
]


def test_acknowledged_elevated_grant_is_accepted():
    settings = settings_from_config(_base_config(scc={"grants": {"redis": "anyuid"}, "acknowledge": ["anyuid"]}))
    assert settings.scc.elevated == {"redis": "anyuid"}


@pytest.mark.parametrize("config,key,message", BAD_CONFIGS)
def test_bad_config_names_the_key(config, key, message):
    problems = _problems(config)
    matching = [p for p in problems if p.startswith(f"{key}:")]
    assert matching, f"no problem reported for {key}: {problems}"
    assert any(message in p for p in matching), f"{message!r} not in {matching}"


def test_at_least_fifteen_distinct_bad_configs():
    assert len({p.id for p in BAD_CONFIGS}) >= 15


def test_every_problem_is_reported_at_once():
    problems = _problems(_base_config(bogus=1, mongodb={"replicas": 4}, redis={"storage": {"size": "0"}}))
    keys = {p.split(": ", 1)[0] for p in problems}
    assert {f"{P}:bogus", f"{P}:mongodb.replicas", f"{P}:redis.storage.size"} <= keys


def test_unknown_key_message_lists_known_keys():
    (problem,) = _problems(_base_config(hostz={"baseDomain": "x.com"}))
    assert "known keys: namespace, hosts," in problem


def test_model_validates_directly_with_python_names():
    settings = Settings(hosts={"base_domain": "apps.example.com"}, mongodb={"replicas": 3})
    assert settings.mongodb.replicas == 3


# --------------------------------------------------------------------------------------------
# A stack sets only what differs: nested settings merge over the model's defaults
# --------------------------------------------------------------------------------------------


def test_one_nested_field_keeps_the_other_defaults():
    settings = settings_from_config(_base_config(
        apiserver={"resources": {"limits": {"memory": "2Gi"}}},
        fileserver={"storage": {"className": "fast"}},
        images={"clearml": {"tag": "2.4.1"}},
        elasticsearch={"resources": {"requests": {"cpu": "1"}}},
    ))
    defaults = Settings.model_validate({"hosts": {"baseDomain": "apps.example.com"}})
    resources = settings.apiserver.resources
    assert resources.limits.memory == "2Gi"
    assert (resources.requests, resources.limits.cpu) == (defaults.apiserver.resources.requests, defaults.apiserver.resources.limits.cpu)
    assert (settings.fileserver.storage.size, settings.fileserver.storage.class_name) == ("50Gi", "fast")
    assert (settings.images.clearml.repository, settings.images.clearml.tag) == ("docker.io/clearml/server", "2.4.1")
    assert settings.elasticsearch.resources.requests.memory == defaults.elasticsearch.resources.requests.memory
    # Every other tier keeps its own defaults (each tier's defaults differ: the merge is per field).
    assert settings.webserver == defaults.webserver and settings.mongodb == defaults.mongodb


def test_cpu_as_a_yaml_number_is_cores():
    settings = settings_from_config(_base_config(apiserver={"resources": {"requests": {"cpu": 0.5}, "limits": {"cpu": 4}}}))
    assert (settings.apiserver.resources.requests.cpu, settings.apiserver.resources.limits.cpu) == ("0.5", "4")


def test_a_cookie_domain_every_host_ends_with_is_accepted():
    settings = settings_from_config(_base_config(hosts={"baseDomain": "apps.example.com", "cookieDomain": "example.com"}))
    assert settings.cookie_domain == "example.com"


def _secret_values(key: str) -> dict[str, Any]:
    """Wrong values under `key`, each a distinct marker string: a plain string where an object is
    expected, and an object whose every field holds a marker (wrong for most of them)."""
    model = Settings.model_fields[key].annotation
    fields = getattr(model, "model_fields", {})
    return {"text": f"HUNTER2-{key}-text",
            "object": {(f.alias or n): f"HUNTER2-{key}-{n}" for n, f in fields.items()} or f"HUNTER2-{key}"}


def _errors(key: str, value: Any, secret: bool) -> str:
    config = {**_base_config(), f"{P}:{key}": value if isinstance(value, str) else json.dumps(value)}
    with pytest.raises(ConfigError) as caught:
        settings_from_config(config, secret_keys={f"{P}:{key}"} if secret else ())
    return str(caught.value)


KEYS = {f.alias or n: n for n, f in Settings.model_fields.items()}


@pytest.mark.parametrize("key", sorted(KEYS))
def test_no_error_message_shows_a_secret_value(key):
    for value in _secret_values(KEYS[key]).values():
        text = _errors(key, value, secret=True)
        assert "HUNTER2" not in text, text
        assert f"{P}:{key}" in text
        # Where a message quotes the value (a host, a path, a duration), the secret's shows `[secret]`.
        if "HUNTER2" in _errors(key, value, secret=False):
            assert "[secret]" in text


def test_the_secret_test_sees_messages_that_quote_values():
    # Keeps the test above from passing vacuously: these keys' messages quote the value given.
    quoted = {key for key in KEYS for value in _secret_values(KEYS[key]).values()
              if "HUNTER2" in _errors(key, value, secret=False)}
    assert quoted >= {"namespace", "hosts", "storage", "tls", "edge"}
