"""The manifests of each tier: env wiring, Services, probes, resources, secrets, storage, HA."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import PROJECT, STACKS, containers, deploy_config, env_of, is_secret, pod_templates, stack_config, unwrap


@pytest.fixture
def dev(mocks):
    deploy_config(mocks, stack_config("dev"))
    return mocks


@pytest.fixture
def prod(mocks):
    deploy_config(mocks, stack_config("prod"))
    return mocks


def _main(mocks, kind: str, name: str) -> dict[str, Any]:
    return mocks.manifest(kind, name)["spec"]["template"]["spec"]["containers"][0]


# ---- ClearML server env --------------------------------------------------------------------


def test_apiserver_env_wiring(dev):
    env = env_of(_main(dev, "Deployment", "clearml-apiserver"))
    assert env["CLEARML_MONGODB_SERVICE_CONNECTION_STRING"] == ("secret", "clearml-mongodb", "connection-string")
    assert env["CLEARML_REDIS_SERVICE_HOST"] == "clearml-redis" and env["CLEARML_REDIS_SERVICE_PORT"] == "6379"
    assert env["CLEARML_REDIS_SERVICE_PASSWORD"] == ("secret", "clearml-redis", "password")
    for cluster in ("EVENTS", "WORKERS", "DATASETS", "LOGS"):
        hosts = json.loads(env[f"CLEARML__HOSTS__ELASTIC__{cluster}__HOSTS"])
        assert hosts == [{"host": "clearml-elastic", "port": 9200, "scheme": "https"}]
        assert env[f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__VERIFY_CERTS"] == "true"
        assert env[f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__CA_CERTS"] == '"/etc/clearml/elastic-ca/ca.crt"'
    assert env["CLEARML_ELASTIC_SERVICE_USERNAME"] == ("secret", "clearml-elastic", "username")
    assert env["CLEARML_ELASTIC_SERVICE_PASSWORD"] == ("secret", "clearml-elastic", "password")
    assert json.loads(env["CLEARML__services__async_urls_delete__fileserver__url_prefixes"]) == [
        "https://clearml-dev-files.apps.dev.example.com"]
    assert env["CLEARML__apiserver__auth__cookies__domain"] == ".apps.dev.example.com"


def test_async_delete_wiring(dev):
    main = _main(dev, "Deployment", "clearml-async-delete")
    assert main["command"] == ["python3", "-m", "jobs.async_urls_delete",
                               "--fileserver-host", "http://clearml-fileserver:8081"]
    env = env_of(main)
    assert json.loads(env["CLEARML__services__async_urls_delete__fileserver__url_prefixes"]) == [
        "https://clearml-dev-files.apps.dev.example.com"]
    assert env["PYTHONPATH"] == "/opt/clearml/apiserver:/etc/clearml-openshift/python"
    assert dev.manifest("Deployment", "clearml-async-delete")["spec"]["replicas"] == 1


def test_fileserver_wiring(dev):
    main = _main(dev, "Deployment", "clearml-fileserver")
    env = env_of(main)
    assert env["CLEARML__hosts__api_server"] == "http://clearml-apiserver:8008"
    assert {"name": "data", "mountPath": "/mnt/fileserver", "readOnly": False} in main["volumeMounts"]
    claim = dev.manifest("PersistentVolumeClaim", "clearml-fileserver-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_clearml_processes_start_without_root(dev):
    """The entrypoint is mode 744 in the image: it is run through bash, never executed directly."""
    for name, role in (("clearml-apiserver", "apiserver"), ("clearml-fileserver", "fileserver")):
        command = _main(dev, "Deployment", name)["command"]
        assert command[:2] == ["python3", "-c"] and command[3:] == ["bash", "/opt/clearml/entrypoint.sh", role]
    web = _main(dev, "Deployment", "clearml-webserver")
    assert web["command"][0] == "/usr/sbin/nginx" and web["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


def test_mongodb_credentials_never_reach_the_server_logs(dev):
    data = dev.manifest("ConfigMap", "clearml-server-config")["data"]
    assert 'console { class: "clearml_openshift_logging.RedactingStreamHandler" }' in data["logging.conf"]
    assert "class RedactingStreamHandler" in data["clearml_openshift_logging.py"]
    for name in ("clearml-apiserver", "clearml-async-delete"):
        main = _main(dev, "Deployment", name)
        assert {"name": "server-config", "mountPath": "/opt/clearml/config", "readOnly": True} in main["volumeMounts"]
        assert {"name": "server-python", "mountPath": "/etc/clearml-openshift/python", "readOnly": True} in main["volumeMounts"]
        pythonpath = next(e["value"] for e in main["env"] if e["name"] == "PYTHONPATH")
        assert "/etc/clearml-openshift/python" in pythonpath.split(":")


def test_async_delete_runs_from_the_image_workdir(dev):
    """`python3 -m jobs.async_urls_delete` imports `apiserver.*`: the working directory must be /opt/clearml."""
    main = _main(dev, "Deployment", "clearml-async-delete")
    assert main["workingDir"] == "/opt/clearml"
    assert main["command"][:3] == ["python3", "-m", "jobs.async_urls_delete"]
    pythonpath = next(e["value"] for e in main["env"] if e["name"] == "PYTHONPATH")
    assert pythonpath.split(":")[0] == "/opt/clearml/apiserver"


def test_sdk_keys_are_not_revoked_in_fixed_users_mode(dev):
    env = {e["name"]: e.get("value") for e in _main(dev, "Deployment", "clearml-apiserver")["env"]}
    assert env["CLEARML__apiserver__auth__fixed_users__enabled"] == "true"
    assert _secure_files(dev)["apiserver"]["secure"]["credentials"]["tests"]["revoke_in_fixed_mode"] is False


# ---- generated credentials: configuration files, never environment --------------------------------------

def _secure_files(dev) -> dict[str, dict[str, Any]]:
    """What each server process reads from its mounted files, as clearml-server's config loader does:
    every `*.conf` under a config dir is parsed (HOCON) and placed under the key its path names."""
    from pyhocon import ConfigFactory

    data = unwrap(dev.one("Secret", "clearml-credentials").inputs)["stringData"]
    out = {}
    for deployment, reader in (("clearml-apiserver", "apiserver"), ("clearml-fileserver", "fileserver"),
                               ("clearml-async-delete", "async-delete")):
        spec = dev.manifest("Deployment", deployment)["spec"]["template"]["spec"]
        [volume] = [v for v in spec["volumes"] if v["name"] == "secure-config"]
        assert volume["secret"]["secretName"] == "clearml-credentials" and volume["secret"]["defaultMode"] == 0o440
        [main] = spec["containers"]
        assert {"name": "secure-config", "mountPath": "/etc/clearml/secure", "readOnly": True} in main["volumeMounts"]
        assert env_of(main)["CLEARML_CONFIG_DIR"] == "/opt/clearml/config:/etc/clearml/secure"
        files = {}
        for item in volume["secret"]["items"]:
            files[item["path"].removesuffix(".conf")] = ConfigFactory.parse_string(data[item["key"]]).as_plain_ordered_dict()
        out[reader] = files
    return out


def test_generated_credentials_reach_the_server_as_files_only(dev):
    data = unwrap(dev.one("Secret", "clearml-credentials").inputs)["stringData"]
    files = _secure_files(dev)
    api = files["apiserver"]["secure"]
    for user, (key, secret) in {"apiserver": ("apiserver_key", "apiserver_secret"), "tests": ("tests_key", "tests_secret"),
                                "services_agent": ("services_agent_key", "services_agent_secret"),
                                "fileserver": ("fileserver_key", "fileserver_secret"),
                                "webserver": ("webserver_key", "webserver_secret")}.items():
        assert (api["credentials"][user]["user_key"], api["credentials"][user]["user_secret"]) == (data[key], data[secret])
    assert api["auth"]["token_secret"] == data["auth_token_secret"]
    assert api["http"]["session_secret"]["apiserver"] == data["session_secret"]
    [admin] = files["apiserver"]["apiserver"]["auth"]["fixed_users"]["users"]
    assert (admin["username"], admin["password"]) == ("admin", data["admin_password"])
    # Each other reader gets only what it needs.
    assert files["fileserver"] == {"secure": {"credentials": {"fileserver": {
        "user_key": data["fileserver_key"], "user_secret": data["fileserver_secret"]}}}}
    assert files["async-delete"] == {"secure": {"auth": {"token_secret": data["auth_token_secret"]}}}
    # Nothing generated is in any server container's environment any more.
    for name in ("clearml-apiserver", "clearml-fileserver", "clearml-async-delete"):
        env = env_of(_main(dev, "Deployment", name))
        assert not [k for k, v in env.items() if isinstance(v, tuple) and v[1] == "clearml-credentials"], name
        assert not [k for k in env if k.startswith("CLEARML__secure__") or k.endswith("fixed_users__users")], name


def test_example_prepopulation_writes_artifacts_into_the_file_servers_volume(mocks):
    """clearml-server docker-compose.yml: pre_populate.artifacts_path=/mnt/fileserver, with the file
    server's volume mounted there in the API server."""
    deploy_config(mocks, {**stack_config("dev"),
                          f"{PROJECT}:features": json.dumps({"prepopulateExamples": True}),
                          f"{PROJECT}:fileserver": json.dumps({"storage": {"size": "50Gi", "accessMode": "ReadWriteMany"}})})
    spec = next(s for n, s in pod_templates(mocks.resources) if n == "Deployment/clearml-apiserver")
    main = spec["containers"][0]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["CLEARML__apiserver__pre_populate__enabled"] == "true"
    assert env["CLEARML__apiserver__pre_populate__artifacts_path"] == "/mnt/fileserver"
    assert {"name": "fileserver-data", "mountPath": "/mnt/fileserver", "readOnly": False} in main["volumeMounts"]
    claim = next(v for v in spec["volumes"] if v["name"] == "fileserver-data")
    assert claim["persistentVolumeClaim"]["claimName"] == "clearml-fileserver-data"


def test_without_prepopulation_the_apiserver_has_no_file_server_volume(dev):
    main = _main(dev, "Deployment", "clearml-apiserver")
    assert all(m["mountPath"] != "/mnt/fileserver" for m in main["volumeMounts"])
    assert "CLEARML__apiserver__pre_populate__artifacts_path" not in {e["name"] for e in main["env"]}


def test_fileserver_waits_for_the_apiserver(dev):
    spec = dev.manifest("Deployment", "clearml-fileserver")["spec"]["template"]["spec"]
    wait = next(c for c in spec["initContainers"] if c["name"] == "wait-for-peers")
    assert "http://clearml-apiserver:8008/debug.ping" in wait["command"]


def test_webserver_config(dev):
    data = dev.manifest("ConfigMap", "clearml-webserver")["data"]
    assert "listen 8080 default_server;" in data["nginx.conf"]
    assert "proxy_pass http://clearml-apiserver:8008;" in data["nginx.conf"]
    assert "proxy_pass http://clearml-fileserver:8081;" in data["nginx.conf"]
    assert "pid /tmp/nginx.pid;" in data["nginx.conf"] and "user " not in data["nginx.conf"]
    assert json.loads(data["configuration.json"]) == {
        "apiBaseUrl": "https://clearml-dev-api.apps.dev.example.com",
        "fileBaseUrl": "https://clearml-dev-files.apps.dev.example.com",
        "displayedServerUrls": {"apiServer": "https://clearml-dev-api.apps.dev.example.com",
                                "filesServer": "https://clearml-dev-files.apps.dev.example.com"}}


# ---- Services, probes, resources -------------------------------------------------------------


def test_services_select_pods_and_target_named_ports(dev):
    specs = {r.inputs["metadata"]["name"]: unwrap(r.inputs) for r in dev.of_kind("Deployment") + dev.of_kind("StatefulSet")}
    for service in dev.of_kind("Service"):
        svc = unwrap(service.inputs)
        selector = svc["spec"]["selector"]
        targets = [s for s in specs.values() if selector.items() <= s["spec"]["template"]["metadata"]["labels"].items()]
        assert len(targets) == 1, f"{svc['metadata']['name']} selects {len(targets)} workloads"
        ports = {p["name"] for c in targets[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports, (svc["metadata"]["name"], port)


@pytest.mark.parametrize("stack", STACKS)
def test_probes_and_resources_on_every_container(mocks, stack):
    deploy_config(mocks, stack_config(stack))
    for name, spec in pod_templates(mocks.resources):
        for c in containers(spec):
            res = c["resources"]
            assert set(res["requests"]) == {"cpu", "memory"} and set(res["limits"]) == {"cpu", "memory"}, (name, c["name"])
        if name.startswith(("Job/", "CronJob/")):
            continue  # run-to-completion
        for c in spec["containers"]:
            assert c.get("readinessProbe") and c.get("livenessProbe"), f"{name}/{c['name']} lacks probes"


def test_probe_endpoints(dev):
    assert _main(dev, "Deployment", "clearml-apiserver")["readinessProbe"]["httpGet"]["path"] == "/debug.ping"
    assert _main(dev, "Deployment", "clearml-fileserver")["readinessProbe"]["httpGet"]["path"] == "/"
    assert "startupProbe" in _main(dev, "Deployment", "clearml-apiserver")
    assert "startupProbe" in _main(dev, "StatefulSet", "clearml-elastic")


# ---- Secrets ------------------------------------------------------------------------------------


def test_every_secret_value_is_a_pulumi_secret(dev):
    secrets = dev.of_kind("Secret")
    assert {unwrap(s.inputs)["metadata"]["name"] for s in secrets} == {
        "clearml-credentials", "clearml-mongodb", "clearml-redis", "clearml-elastic"}
    for secret in secrets:
        assert is_secret(secret.inputs["stringData"]), secret.name


def test_generated_values_appear_only_in_secrets(dev):
    generated = [r.outputs["result"] for r in dev.resources if r.typ.startswith("random:")]
    assert len(generated) >= 14
    for r in dev.resources:
        if r.kind == "Secret" or r.typ.startswith("random:"):
            continue
        text = json.dumps(unwrap(r.inputs))
        for value in generated:
            assert value[:16] not in text, f"a generated credential leaks into {r.typ} {r.name}"


def test_credentials_are_generated_once_and_kept(dev):
    """Random resources with fixed names and no keepers: stable across updates."""
    randoms = [r for r in dev.resources if r.typ.startswith("random:")]
    assert len({r.name for r in randoms}) == len(randoms)
    assert all("keepers" not in r.inputs for r in randoms)
    data = unwrap(dev.one("Secret", "clearml-credentials").inputs)["stringData"]
    assert json.loads(data["apiserver.users.conf"])["auth"]["fixed_users"]["users"][0]["username"] == "admin"
    assert data["fileserver_key"] != data["webserver_key"]


# ---- data tiers -----------------------------------------------------------------------------------


def test_mongodb_dev_is_one_member_with_auth(dev):
    main = _main(dev, "StatefulSet", "clearml-mongodb")
    assert "--replSet" not in main["args"]
    env = env_of(main)
    assert "MONGO_INITDB_ROOT_PASSWORD" not in env  # a file the image's entrypoint reads (file_env)
    assert env["MONGO_INITDB_ROOT_PASSWORD_FILE"] == "/etc/mongodb-root/password"
    assert env["MONGO_INITDB_ROOT_USERNAME_FILE"] == "/etc/mongodb-root/username"
    spec = dev.manifest("StatefulSet", "clearml-mongodb")["spec"]["template"]["spec"]
    [volume] = [v for v in spec["volumes"] if v["name"] == "root-credentials"]
    assert volume["secret"]["secretName"] == "clearml-mongodb" and volume["secret"]["defaultMode"] == 0o440
    assert {"name": "root-credentials", "mountPath": "/etc/mongodb-root", "readOnly": True} in main["volumeMounts"]
    conn = unwrap(dev.one("Secret", "clearml-mongodb").inputs)["stringData"]["connection-string"]
    assert conn.startswith("mongodb://clearml-root:") and conn.endswith("@clearml-mongodb:27017/?authSource=admin")
    # The setup Job of a standalone: no replica set, only the feature compatibility version after an upgrade.
    [job] = dev.of_kind("Job")
    assert job.name == "clearml-mongodb-setup"
    job_env = env_of(dev.manifest("Job", "clearml-mongodb-setup")["spec"]["template"]["spec"]["containers"][0])
    assert "RS_NAME" not in job_env and job_env["RS_MEMBERS"] == "clearml-mongodb-0.clearml-mongodb-headless.clearml-dev.svc:27017"


def test_mongodb_prod_is_an_initialised_replica_set(prod):
    sts = prod.manifest("StatefulSet", "clearml-mongodb")
    main = sts["spec"]["template"]["spec"]["containers"][0]
    assert sts["spec"]["replicas"] == 3
    assert main["args"][-4:] == ["--replSet", "rs0", "--keyFile", "/var/run/mongodb-keyfile/keyfile"]
    init = sts["spec"]["template"]["spec"]["initContainers"][0]
    assert "install -m 0400" in init["command"][-1]
    members = [f"clearml-mongodb-{i}.clearml-mongodb-headless.clearml.svc:27017" for i in range(3)]
    conn = unwrap(prod.one("Secret", "clearml-mongodb").inputs)["stringData"]["connection-string"]
    assert conn.endswith("@" + ",".join(members) + "/?replicaSet=rs0&authSource=admin")
    job = prod.manifest("Job", "clearml-mongodb-setup")
    job_env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert job_env["RS_MEMBERS"] == ",".join(members) and job_env["ROOT_CREDENTIALS_DIR"] == "/etc/mongodb-root"
    assert job_env["RS_NAME"] == "rs0"
    # Moved from its name as the replica-set Job without being recreated for that alone.
    [recorded] = [r for r in prod.of_kind("Job") if r.name == "clearml-mongodb-setup"]
    assert recorded.aliases == ["clearml-mongodb-rs-init"]
    assert not [v for v in job_env.values() if isinstance(v, tuple)]  # no credential in the environment
    assert "replSetInitiate" in job["spec"]["template"]["spec"]["containers"][0]["command"][-1]


def test_redis_requires_a_password(dev):
    main = _main(dev, "StatefulSet", "clearml-redis")
    assert main["command"] == ["redis-server", "/etc/redis-secret/redis.conf"]
    conf = unwrap(dev.one("Secret", "clearml-redis").inputs)["stringData"]["redis.conf"]
    assert "\nrequirepass " in conf and "appendonly yes" in conf


def test_elasticsearch_single_node_and_cluster(dev, mocks):
    env = env_of(_main(dev, "StatefulSet", "clearml-elastic"))
    assert env["discovery.type"] == "single-node" and "cluster.initial_master_nodes" not in env
    assert env["node.store.allow_mmap"] == "false" and env["ES_JAVA_OPTS"] == "-Xms512m -Xmx512m"


def test_elasticsearch_prod_forms_a_cluster(prod):
    sts = prod.manifest("StatefulSet", "clearml-elastic")
    env = env_of(sts["spec"]["template"]["spec"]["containers"][0])
    assert env["cluster.initial_master_nodes"] == "clearml-elastic-0,clearml-elastic-1,clearml-elastic-2"
    assert env["discovery.seed_hosts"] == "clearml-elastic-headless" and "discovery.type" not in env
    assert sts["spec"]["podManagementPolicy"] == "Parallel"


def test_scaling_elasticsearch_changes_no_nodes_pod_template(mocks):
    """`cluster.initial_master_nodes` only matters when the cluster first forms: 3 -> 5 nodes is a scale
    of the StatefulSet, not a rolling restart of the nodes that run."""
    def template(replicas: int) -> dict[str, Any]:
        config = stack_config("prod")
        section = json.loads(config[f"{PROJECT}:elasticsearch"]) | {"replicas": replicas}
        config[f"{PROJECT}:elasticsearch"] = json.dumps(section)
        mocks.resources.clear()
        deploy_config(mocks, config)
        sts = mocks.manifest("StatefulSet", "clearml-elastic")
        return {"replicas": sts["spec"]["replicas"], "template": sts["spec"]["template"]}

    three, five = template(3), template(5)
    assert (three["replicas"], five["replicas"]) == (3, 5)
    assert three["template"] == five["template"]
    assert env_of(five["template"]["spec"]["containers"][0])["cluster.initial_master_nodes"] == (
        "clearml-elastic-0,clearml-elastic-1,clearml-elastic-2")


# ---- storage and availability ------------------------------------------------------------------------


def test_volume_claims_survive_destroy(prod):
    for sts in prod.of_kind("StatefulSet"):
        policy = sts.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}, sts.name
    claim = next(r for r in prod.of_kind("PersistentVolumeClaim"))
    assert claim.retain_on_delete
    assert next(r for r in prod.of_kind("Namespace")).retain_on_delete
    assert prod.manifest("PersistentVolumeClaim", "clearml-fileserver-data")["spec"] == {
        "accessModes": ["ReadWriteMany"], "storageClassName": "efs-sc", "resources": {"requests": {"storage": "500Gi"}}}
    es_claim = prod.manifest("StatefulSet", "clearml-elastic")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert es_claim["storageClassName"] == "gp3-csi" and es_claim["resources"]["requests"]["storage"] == "200Gi"


def test_prod_replicated_tiers_have_pdbs_and_spread(prod):
    budgets = {unwrap(r.inputs)["metadata"]["name"] for r in prod.of_kind("PodDisruptionBudget")}
    assert budgets == {"clearml-apiserver", "clearml-webserver", "clearml-fileserver", "clearml-mongodb", "clearml-elastic"}
    for name, spec in pod_templates(prod.resources):
        if name in ("Deployment/clearml-apiserver", "StatefulSet/clearml-mongodb", "StatefulSet/clearml-elastic"):
            keys = {t["topologyKey"] for t in spec["topologySpreadConstraints"]}
            assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, name


def test_dev_has_no_pdbs(dev):
    assert dev.of_kind("PodDisruptionBudget") == []


def test_rollouts_keep_capacity_or_avoid_double_writers(prod, mocks):
    api = prod.manifest("Deployment", "clearml-apiserver")["spec"]["strategy"]
    assert api == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert prod.manifest("Deployment", "clearml-async-delete")["spec"]["strategy"] == {"type": "Recreate"}
    # prod's file server volume is ReadWriteMany, so it can roll.
    assert prod.manifest("Deployment", "clearml-fileserver")["spec"]["strategy"]["type"] == "RollingUpdate"
    for sts in ("clearml-mongodb", "clearml-elastic", "clearml-redis"):
        grace = prod.manifest("StatefulSet", sts)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= 60, sts


def test_external_data_tiers_deploy_nothing_in_cluster(mocks):
    P = PROJECT
    deploy_config(mocks, {
        f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}),
        f"{P}:mongodb": json.dumps({"external": {"connectionString": {"name": "mongo", "key": "uri"}}}),
        f"{P}:redis": json.dumps({"external": {"host": "redis.example.com", "port": 6380}}),
        f"{P}:elasticsearch": json.dumps({"external": {"hosts": [{"host": "es.example.com"}],
                                                       "username": {"name": "es", "key": "u"},
                                                       "password": {"name": "es", "key": "p"}}}),
    })
    assert mocks.of_kind("StatefulSet") == []
    env = env_of(_main(mocks, "Deployment", "clearml-apiserver"))
    assert env["CLEARML_MONGODB_SERVICE_CONNECTION_STRING"] == ("secret", "mongo", "uri")
    assert env["CLEARML_REDIS_SERVICE_HOST"] == "redis.example.com" and "CLEARML_REDIS_SERVICE_PASSWORD" not in env
    assert json.loads(env["CLEARML__HOSTS__ELASTIC__EVENTS__HOSTS"]) == [
        {"host": "es.example.com", "port": 9200, "scheme": "https"}]
    assert env["CLEARML_ELASTIC_SERVICE_PASSWORD"] == ("secret", "es", "p")


def test_generated_values_are_secret_in_state_too(dev):
    """RandomString keeps its result in plain text (and as its ID); every generated value is a RandomPassword."""
    assert [r for r in dev.resources if r.typ == "random:index/randomString:RandomString"] == []
