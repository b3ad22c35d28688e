"""External MongoDB, Redis and Elasticsearch as teams run them: TLS with their CA, a Redis ACL user,
an Elasticsearch API key, and credentials either in their own Secrets or as Pulumi secrets.

Model-only checks of good and bad values; the manifests under Pulumi's mocks; the policy pack on
them; and clearml-server's own code (its config loader, `redis_manager`, `es_factory`) building its
Redis and Elasticsearch clients from the environment the program gives the API server.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import common as pymongo_common

import preflight
from policy.policies import violations
from preflight.cluster import api_path
from preflight.needs import needs
from settings import PROJECT, ConfigError, settings_from_config
from tests.conftest import deploy_config, env_of, is_secret, unwrap
from tests.fake_cluster import FakeCluster
from tests.test_runtime import image_layout  # noqa: F401  (the fixture: clearml-server laid out as in its image)
from vocabulary import clearml as cv

P = PROJECT
MONGO_URI = ("mongodb://clearml:M0ngoHunter2@db-0.example.com:27017,db-1.example.com:27017/clearml"
             f"?replicaSet=rs0&authSource=admin&tls=true&tlsCAFile={cv.MONGODB_CA_FILE}")
REDIS_PASSWORD = "R3disHunter2"
# Base64 with `=` and `//`, which HOCON would read as syntax if it were not quoted.
API_KEY = "VnVhQ2ZHY0Jk//YlFtLWU1YU94OnVpMmxwMmF4VE5tc3lha3c5dHZObnc=="
SECRET_VALUES = (MONGO_URI, REDIS_PASSWORD, API_KEY)
# Insecure options below are written in two parts: tests/test_edge_tls.py refuses them in any file.

EXTERNAL = {
    "mongodb": {"external": {"connectionString": MONGO_URI, "ca": {"name": "db-ca", "key": "ca.crt"}}},
    "redis": {"external": {"host": "redis.example.com", "port": 6380, "username": "clearml",
                           "password": REDIS_PASSWORD, "tls": True, "ca": {"name": "redis-ca", "key": "ca.crt"}}},
    "elasticsearch": {"external": {"hosts": [{"host": "es-0.example.com"}, {"host": "es-1.example.com"}],
                                   "apiKey": API_KEY, "ca": {"name": "es-ca", "key": "ca.crt"}}},
}
STORE = "clearml-external-credentials"


def _config(**sections: Any) -> dict[str, str]:
    config = {f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"})}
    config.update({f"{P}:{k}": json.dumps(v) for k, v in sections.items()})
    return config


def _secret_keys(*sections: str) -> list[str]:
    return [f"{P}:{s}" for s in sections]


def _problems(secret: tuple[str, ...] = ("mongodb", "redis", "elasticsearch"), **sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config(**sections), _secret_keys(*secret))
    return err.value.problems


# ---- the model: good and bad values ---------------------------------------------------------------------


def test_credentials_as_pulumi_secrets_or_secret_references_are_accepted():
    settings = settings_from_config(_config(**EXTERNAL), _secret_keys(*EXTERNAL))
    assert settings.redis.external.tls and settings.redis.external.username == "clearml"
    assert settings.elasticsearch.external.api_key.get_secret_value() == API_KEY
    assert API_KEY not in repr(settings) and MONGO_URI not in repr(settings)  # never in a repr or a log line
    by_reference = {
        "mongodb": {"external": {"connectionString": {"name": "mongo", "key": "uri"}}},
        "redis": {"external": {"host": "redis.example.com", "password": {"name": "redis", "key": "password"}}},
        "elasticsearch": {"external": {"hosts": [{"host": "es.example.com"}],
                                       "username": "clearml", "password": {"name": "es", "key": "password"}}},
    }
    settings = settings_from_config(_config(**by_reference))  # nothing secret in the stack file
    assert settings.elasticsearch.external.username == "clearml"


BAD = [
    pytest.param({"mongodb": EXTERNAL["mongodb"]}, (), "mongodb.external.connectionString",
                 "a credential in plain text in the stack file: set it with `pulumi config set --secret --path "
                 "'mongodb.external.connectionString' <value>`", id="plain-text-connection-string"),
    pytest.param({"redis": EXTERNAL["redis"]}, (), "redis.external.password",
                 "a credential in plain text", id="plain-text-redis-password"),
    pytest.param({"elasticsearch": EXTERNAL["elasticsearch"]}, (), "elasticsearch.external.apiKey",
                 "a credential in plain text", id="plain-text-api-key"),
    pytest.param({"mongodb": {"external": {"connectionString": MONGO_URI + "&tlsAllowInvalidCertificates" + "=true",
                                           "ca": {"name": "db-ca", "key": "ca.crt"}}}}, ("mongodb",),
                 "mongodb.external", "tlsallowinvalidcertificates switches TLS verification off", id="mongo-insecure"),
    pytest.param({"mongodb": {"external": {"connectionString": MONGO_URI.split("&tls=")[0],
                                           "ca": {"name": "db-ca", "key": "ca.crt"}}}}, ("mongodb",),
                 "mongodb.external", f"add tls=true&tlsCAFile={cv.MONGODB_CA_FILE}", id="mongo-ca-not-named"),
    pytest.param({"mongodb": {"external": {"connectionString": MONGO_URI}}}, ("mongodb",),
                 "mongodb.external", "tlsCAFile names a file the pods do not have: set mongodb.external.ca",
                 id="mongo-tlscafile-without-ca"),
    pytest.param({"mongodb": {"external": {"connectionString": "postgres://db.example.com/clearml"}}}, ("mongodb",),
                 "mongodb.external", "must start with mongodb:// or mongodb+srv://", id="mongo-scheme"),
    pytest.param({"redis": {"external": {"host": "redis.example.com", "ca": {"name": "c", "key": "ca.crt"}}}}, (),
                 "redis.external", "ca is set but tls is false", id="redis-ca-without-tls"),
    pytest.param({"redis": {"external": {"host": "redis.example.com", "username": "clearml"}}}, (),
                 "redis.external", "username 'clearml' is set without a password", id="redis-user-without-password"),
    pytest.param({"redis": {"external": {"host": "redis.example.com", "username": "a b",
                                         "password": {"name": "r", "key": "p"}}}}, (),
                 "redis.external.username", "String should match pattern", id="redis-username-space"),
    pytest.param({"elasticsearch": {"external": {"hosts": [{"host": "es.example.com"}], "apiKey": API_KEY,
                                                 "username": "u", "password": {"name": "e", "key": "p"}}}},
                 ("elasticsearch",), "elasticsearch.external", "set apiKey or username and password, not both",
                 id="es-key-and-user"),
    pytest.param({"elasticsearch": {"external": {"hosts": [{"host": "es.example.com", "scheme": "http"}],
                                                 "apiKey": {"name": "e", "key": "k"}}}}, (),
                 "elasticsearch.external", "credentials would cross the network unencrypted to es.example.com:9200",
                 id="es-credentials-over-http"),
    pytest.param({"elasticsearch": {"external": {"hosts": [{"host": "es.example.com", "scheme": "http"}],
                                                 "ca": {"name": "e", "key": "ca.crt"}}}}, (),
                 "elasticsearch.external", "ca is set but every host uses http", id="es-ca-over-http"),
    pytest.param({"elasticsearch": {"external": {"hosts": [{"host": "es.example.com"}], "username": "a\"b",
                                                 "password": {"name": "e", "key": "p"}}}}, (),
                 "elasticsearch.external.username", "without spaces, quotes or backslashes", id="es-username-quote"),
    pytest.param({"redis": {"external": {"host": "redis.example.com", "password": {"name": "Bad", "key": "p"}}}}, (),
                 "redis.external.password.name", "lower case", id="secret-ref-name-named-without-union-noise"),
]


@pytest.mark.parametrize(("sections", "secret", "key", "message"), BAD)
def test_bad_external_settings_name_the_key_and_never_the_secret(sections, secret, key, message):
    problems = _problems(secret, **sections)
    matching = [p for p in problems if p.startswith(f"{P}:{key}:") and message in p]
    assert matching, problems
    for problem in problems:
        for value in SECRET_VALUES:
            assert value not in problem
        assert "SecretKeyRef" not in problem and "lax-or-strict" not in problem and "function-after" not in problem


def test_the_insecure_mongodb_options_are_pymongo_options():
    """The refused options are real pymongo URI options (so a typo here cannot let one through)."""
    known = {name.lower() for name in pymongo_common.URI_OPTIONS_VALIDATOR_MAP}
    assert set(cv.MONGODB_INSECURE_OPTIONS) <= known
    assert "tlscafile" in known


# ---- the manifests -------------------------------------------------------------------------------------


@pytest.fixture
def external(mocks):
    deploy_config(mocks, _config(**EXTERNAL), _secret_keys(*EXTERNAL))
    return mocks


def _container(mocks, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = mocks.manifest("Deployment", name)["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


def test_pulumi_secret_credentials_are_kept_in_a_secret_of_the_program(external):
    secret = external.one("Secret", STORE)
    data = unwrap(secret.inputs)["stringData"]
    assert data == {"mongodb.external.connectionString": MONGO_URI, "redis.external.password": REDIS_PASSWORD,
                    "elasticsearch.external.apiKey": API_KEY}
    assert all(is_secret(v) for v in secret.inputs["stringData"].values()) or is_secret(secret.inputs["stringData"])
    # No other object carries any of the values.
    for resource in external.resources:
        if resource is secret or resource.typ.startswith("random:"):
            continue
        text = json.dumps(unwrap(resource.inputs), default=str)
        for value in SECRET_VALUES:
            assert value not in text, resource.name


def test_the_pods_read_every_credential_from_a_secret(external):
    _, api = _container(external, "clearml-apiserver")
    env = env_of(api)
    assert env["CLEARML_MONGODB_SERVICE_CONNECTION_STRING"] == ("secret", STORE, "mongodb.external.connectionString")
    assert env["CLEARML_REDIS_SERVICE_PASSWORD"] == ("secret", STORE, "redis.external.password")
    assert env["CLEARML_OPENSHIFT_ELASTIC_API_KEY"] == ("secret", STORE, "elasticsearch.external.apiKey")
    _, files = _container(external, "clearml-fileserver")
    assert env_of(files)["CLEARML_REDIS_SERVICE_PASSWORD"] == ("secret", STORE, "redis.external.password")
    assert external.of_kind("StatefulSet") == []


def test_redis_tls_and_acl_user_for_each_alias_of_each_process(external):
    for deployment, aliases in (("clearml-apiserver", cv.APISERVER_REDIS_ALIASES),
                                ("clearml-async-delete", cv.APISERVER_REDIS_ALIASES),
                                ("clearml-fileserver", cv.FILESERVER_REDIS_ALIASES)):
        _, main = _container(external, deployment)
        env = env_of(main)
        assert (env["CLEARML_REDIS_SERVICE_HOST"], env["CLEARML_REDIS_SERVICE_PORT"]) == ("redis.example.com", "6380")
        configured = {m.group(1).lower() for name in env if (m := re.match(r"CLEARML__HOSTS__REDIS__(\w+?)__", name))}
        assert configured == set(aliases), deployment
        for alias in aliases:
            prefix = f"CLEARML__HOSTS__REDIS__{alias.upper()}__"
            assert env[prefix + "USERNAME"] == '"clearml"'
            assert env[prefix + "SSL"] == "true" and env[prefix + "SSL_CERT_REQS"] == "required"
            assert env[prefix + "SSL_CHECK_HOSTNAME"] == "true"
            assert env[prefix + "SSL_CA_CERTS"] == json.dumps(cv.REDIS_CA_FILE)


@pytest.mark.parametrize("deployment", ["clearml-apiserver", "clearml-async-delete", "clearml-fileserver"])
def test_each_ca_is_mounted_alone_where_the_configuration_names_it(external, deployment):
    spec, main = _container(external, deployment)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounted = {}
    for mount in main["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret and secret["secretName"] in ("db-ca", "redis-ca", "es-ca"):
            [item] = secret["items"]  # only the CA key, never a private key of the same Secret
            assert item["key"] == "ca.crt" and mount["readOnly"] is True
            mounted[secret["secretName"]] = f"{mount['mountPath']}/{item['path']}"
    expected = {"redis-ca": cv.REDIS_CA_FILE}
    if deployment != "clearml-fileserver":
        expected |= {"db-ca": cv.MONGODB_CA_FILE, "es-ca": cv.ELASTIC_CA_FILE}
    assert mounted == expected


def test_the_api_key_reaches_each_elasticsearch_cluster_quoted(external):
    _, api = _container(external, "clearml-apiserver")
    env = env_of(api)
    names = [item["name"] for item in api["env"]]
    for cluster in cv.ELASTIC_CLUSTERS:
        name = f"CLEARML__HOSTS__ELASTIC__{cluster.upper()}__ARGS__API_KEY"
        assert env[name] == '"$(CLEARML_OPENSHIFT_ELASTIC_API_KEY)"'
        # The kubelet expands $(VAR) only from variables defined before it.
        assert names.index("CLEARML_OPENSHIFT_ELASTIC_API_KEY") < names.index(name)
        assert env[f"CLEARML__HOSTS__ELASTIC__{cluster.upper()}__ARGS__VERIFY_CERTS"] == "true"
    assert "CLEARML_ELASTIC_SERVICE_USERNAME" not in env


def test_the_policy_pack_passes_the_external_wiring_and_still_catches_literals(external):
    for resource in external.resources:
        if resource.typ.startswith("kubernetes:"):
            found = violations(resource.typ, unwrap(resource.inputs))
            assert "no-literal-secrets" not in found and "tls-verification" not in found, (resource.name, found)
    # A $(VAR) reference to a variable that is not from a Secret is still a literal.
    manifest = external.manifest("Deployment", "clearml-apiserver")
    env = manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    env[:] = [{"name": "CLEARML_OPENSHIFT_ELASTIC_API_KEY", "value": API_KEY} if e["name"] == "CLEARML_OPENSHIFT_ELASTIC_API_KEY"
              else e for e in env]
    found = violations("kubernetes:apps/v1:Deployment", manifest)
    assert any("CLEARML_OPENSHIFT_ELASTIC_API_KEY has a literal value" in m for m in found["no-literal-secrets"])


def test_preflight_checks_the_referenced_connection_string_without_printing_it():
    path = api_path("", "v1", "secrets", "mongo", "clearml")

    def problems(uri: str, ca: bool) -> list[str]:
        mongo = {"external": {"connectionString": {"name": "mongo", "key": "uri"},
                              **({"ca": {"name": "mongo", "key": "ca.crt"}} if ca else {})}}
        data = {"uri": base64.b64encode(uri.encode()).decode(), "ca.crt": "LS0t"}
        cluster = FakeCluster(objects={path: {"data": data}})
        return preflight.check(cluster, needs(settings_from_config(_config(mongodb=mongo)))).problems

    assert problems(MONGO_URI, ca=True) == []
    [line] = problems(MONGO_URI, ca=False)
    assert line.startswith(f"{P}:mongodb.external.connectionString: Secret mongo, key uri: tlsCAFile names a file")
    [line] = problems(MONGO_URI + "&tlsInsecure" + "=true", ca=True)
    assert "tlsinsecure switches TLS verification off" in line
    for line in problems(MONGO_URI, ca=False) + problems(MONGO_URI + "&tlsInsecure" + "=true", ca=True):
        assert "M0ngoHunter2" not in line and "db-0.example.com" not in line


# ---- clearml-server's own code, given the API server's environment -----------------------------------------


def _kubelet_env(container: dict[str, Any], secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's environment as the kubelet makes it: secretKeyRef values read from `secrets`,
    `$(VAR)` replaced by the value of a variable defined before it (`$$` keeps a `$`)."""
    out: dict[str, str] = {}
    for item in container["env"]:
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            out[item["name"]] = secrets[(ref["name"], ref["key"])]
            continue
        value = item.get("value", "")
        out[item["name"]] = re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                   lambda m: "$" if m.group(0) == "$$" else out.get(m.group(1), m.group(0)), value)
    return out


def _ca_file(tmp_path: Path) -> Path:
    key, cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=test-ca"], check=True, capture_output=True, timeout=60)
    return cert


CLIENTS = """
import json
from apiserver.redis_manager import redman
from apiserver.es_factory import es_factory
out = {}
for alias, client in redman.aliases.items():
    pool = client.connection_pool
    kw = pool.connection_kwargs
    out["redis." + alias] = {"connection": pool.connection_class.__name__, "host": kw["host"], "port": int(kw["port"]),
                             "username": kw["username"], "password": kw["password"], "ssl_cert_reqs": kw.get("ssl_cert_reqs"),
                             "ssl_check_hostname": kw.get("ssl_check_hostname"), "ssl_ca_certs": kw.get("ssl_ca_certs")}
for cluster in ("events", "workers", "datasets", "logs"):
    es = es_factory.connect(cluster)
    nodes = es.transport.node_pool.all()
    out["elastic." + cluster] = {"authorization": es._headers.get("authorization"),
                                 "nodes": sorted(f"{n.config.scheme}://{n.config.host}:{n.config.port}" for n in nodes),
                                 "verify_certs": [n.config.verify_certs for n in nodes],
                                 "ca_certs": [n.config.ca_certs for n in nodes]}
print(json.dumps(out))
"""


def test_clearml_server_builds_its_clients_from_the_environment_given(external, image_layout, tmp_path):  # noqa: F811
    _, api = _container(external, "clearml-apiserver")
    secrets = {(STORE, k): v for k, v in unwrap(external.one("Secret", STORE).inputs)["stringData"].items()}
    env = _kubelet_env(api, secrets)
    ca = _ca_file(tmp_path)
    # The CA files where the pods mount them, here at a local path (the client loads them on creation).
    env = {k: v.replace(cv.REDIS_CA_FILE, str(ca)).replace(cv.ELASTIC_CA_FILE, str(ca)) for k, v in env.items()}
    env.pop("CLEARML_CONFIG_DIR", None)  # the mounted config files are read in tests/test_runtime.py
    run_env = {**{k: v for k, v in os.environ.items() if not k.startswith("CLEARML")}, **env,
               "PYTHONPATH": str(image_layout / "opt" / "clearml")}
    result = subprocess.run([sys.executable, "-c", CLIENTS], env=run_env, capture_output=True, text=True,
                            cwd=image_layout / "opt" / "clearml", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    clients = json.loads(result.stdout.strip().splitlines()[-1])
    for alias in cv.APISERVER_REDIS_ALIASES:
        assert clients[f"redis.{alias}"] == {
            "connection": "SSLConnection", "host": "redis.example.com", "port": 6380, "username": "clearml",
            "password": REDIS_PASSWORD, "ssl_cert_reqs": "required", "ssl_check_hostname": True,
            "ssl_ca_certs": str(ca)}
    for cluster in cv.ELASTIC_CLUSTERS:
        es = clients[f"elastic.{cluster}"]
        assert es["authorization"] == f"ApiKey {API_KEY}"  # the whole key, `=` and `//` included
        assert es["nodes"] == ["https://es-0.example.com:9200", "https://es-1.example.com:9200"]
        assert es["verify_certs"] == [True, True] and es["ca_certs"] == [str(ca), str(ca)]
    for value in (MONGO_URI, REDIS_PASSWORD, API_KEY):
        assert value not in result.stdout.replace(json.dumps(clients), "") and value not in result.stderr
