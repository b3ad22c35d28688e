"""Every pod template the program can produce passes restricted-v2 and Pod Security `restricted`,
and no volume hides a directory that ships in its image."""

from __future__ import annotations

import json
import random as stdlib_random
from typing import Any

import pytest

from admission import Namespace, admit, check_restricted, load_scc
from settings import PROJECT
from tests.conftest import containers, deploy_config, pod_templates, stack_config
from vocabulary.openshift import ELEVATED_SCCS

P = PROJECT
VARIANTS = {
    "dev": lambda: stack_config("dev"),
    "prod": lambda: stack_config("prod"),
    "external-data-tiers": lambda: {
        f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}),
        f"{P}:mongodb": json.dumps({"external": {"connectionString": {"name": "mongo", "key": "uri"}}}),
        f"{P}:redis": json.dumps({"external": {"host": "redis.example.com", "password": {"name": "redis", "key": "pw"}}}),
        f"{P}:elasticsearch": json.dumps({"external": {"hosts": [{"host": "es.example.com"}],
                                                       "username": {"name": "es", "key": "u"},
                                                       "password": {"name": "es", "key": "p"}}}),
        f"{P}:namespace": json.dumps({"name": "ml", "create": False}),
        f"{P}:features": json.dumps({"asyncDelete": False, "prepopulateExamples": True}),
        f"{P}:fileserver": json.dumps({"storage": {"size": "50Gi", "accessMode": "ReadWriteMany"}}),
    },
    "agent-reencrypt-grants": lambda: {
        f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}),
        f"{P}:agent": json.dumps({"enabled": True}),
        f"{P}:edge": json.dumps({"termination": "reencrypt"}),
        f"{P}:scc": json.dumps({"grants": {"elasticsearch": "nonroot-v2", "mongodb": "nonroot-v2"},
                                 "identities": {"elasticsearch": {"runAsUser": 1000}, "mongodb": {"runAsUser": 999}}}),
    },
    # Scheduling changes where pods run, never how they are admitted. (No priorityClassName: the
    # engine cross-check dry-runs these pods, and the Priority plugin refuses an unknown class.)
    "scheduled-required-spread": lambda: {
        f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}),
        f"{P}:features": json.dumps({"topologySpread": "required"}),
        f"{P}:apiserver": json.dumps({"replicas": 2}),
        f"{P}:scheduling": json.dumps({"nodeSelector": {"node-role.kubernetes.io/infra": ""},
                                       "tolerations": [{"key": "node-role.kubernetes.io/infra", "operator": "Exists"}],
                                       "podLabels": {"team": "ml"}, "podAnnotations": {"example.com/owner": "ml"}}),
        f"{P}:agent": json.dumps({"enabled": True, "taskScheduling": {"nodeSelector": {"nvidia.com/gpu.present": "true"}}}),
    },
    # The web server granted anyuid (acknowledged): the image's own user, no seccomp profile.
    "anyuid-webserver": lambda: {
        f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}),
        f"{P}:scc": json.dumps({"grants": {"webserver": "anyuid"}, "acknowledge": ["anyuid"]}),
    },
    # Large replica sets, and Elasticsearch's snapshots in a bucket (the keystore init container).
    "single-replica-prod-like": lambda: {
        f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}),
        f"{P}:mongodb": json.dumps({"replicas": 5}),
        f"{P}:elasticsearch": json.dumps({"replicas": 7}),
        f"{P}:backup": json.dumps({"enabled": True, "elasticsearchS3": {
            "bucket": "clearml-snapshots", "endpoint": "s3.openshift-storage.svc:443", "basePath": "clearml/prod",
            "pathStyleAccess": True, "accessKey": {"name": "noobaa-clearml", "key": "AWS_ACCESS_KEY_ID"},
            "secretKey": {"name": "noobaa-clearml", "key": "AWS_SECRET_ACCESS_KEY"}}}),
    },
}


_TEMPLATES: dict[str, list[tuple[str, dict[str, Any]]]] = {}


@pytest.fixture(params=sorted(VARIANTS))
def templates(request, mocks) -> list[tuple[str, dict[str, Any]]]:
    """The pod templates of one variant. Each program runs once per session: the templates are plain
    data and every check below copies before it mutates (admit deep-copies)."""
    if request.param not in _TEMPLATES:
        deploy_config(mocks, VARIANTS[request.param]())
        _TEMPLATES[request.param] = pod_templates(mocks.resources)
    found = _TEMPLATES[request.param]
    assert len(found) >= 3
    return found


def _random_namespace(seed: int) -> Namespace:
    rng = stdlib_random.Random(seed)
    start = rng.randrange(100_000, 199_999) * 10_000  # 1000000000-1999999999, blocks of 10000
    return Namespace(uid_range=f"{start}/10000", supplemental_groups=f"{start}/10000",
                     mcs=f"s0:c{rng.randrange(1, 50)},c{rng.randrange(51, 99)}")


@pytest.mark.parametrize("scc_name", ["restricted-v2", "restricted-v2-release-4.16"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_admitted_by_restricted_v2_in_a_random_uid_namespace(templates, scc_name, seed):
    namespace = _random_namespace(seed)
    uid_min, uid_max = namespace.uid_min_max
    for name, spec in templates:
        # A tier with an SCC grant is pinned to it (openshift.io/required-scc); all others get restricted-v2.
        pinned = spec["_annotations"].get("openshift.io/required-scc")
        scc = pinned if pinned and pinned != "restricted-v2" else scc_name
        mutated, errors = admit(spec, load_scc(scc), namespace)
        assert errors == [], f"{name} rejected by {scc}: {errors}"
        if scc != scc_name:
            continue  # e.g. nonroot-v2 runs the image's own UID and assigns no fsGroup
        assert mutated["securityContext"]["fsGroup"] == namespace.fs_group
        for c in containers(mutated):
            assert uid_min <= c["securityContext"]["runAsUser"] <= uid_max, name


def _elevated(spec: dict[str, Any]) -> bool:
    """Pinned to an SCC that runs as root or reaches the host: Pod Security `restricted` cannot hold
    (the policy pack leaves it to the acknowledged grant) and the builder shapes it for that SCC."""
    return spec["_annotations"].get("openshift.io/required-scc") in ELEVATED_SCCS


def test_pod_security_restricted(templates):
    for name, spec in templates:
        if not _elevated(spec):
            assert check_restricted(spec) == [], name  # nonroot-v2 with its identity included


def _identity(spec: dict[str, Any]) -> set[str]:
    """The identity fields a tier granted nonroot-v2 or anyuid may carry (settings scc.identities)."""
    granted = spec["_annotations"].get("openshift.io/required-scc") in ("nonroot-v2", "anyuid")
    return {"runAsUser", "runAsGroup", "fsGroup"} if granted else set()


FORBIDDEN_FIELDS = {"runAsUser", "runAsGroup", "fsGroup", "seLinuxOptions", "sysctls", "hostPort",
                    "hostNetwork", "hostPID", "hostIPC", "hostPath", "privileged"}


def _walk(value: Any, path: str = ""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def test_no_fixed_ids_selinux_or_host_access_anywhere(templates):
    for name, spec in templates:
        for path, key, value in _walk({k: v for k, v in spec.items() if k != "_annotations"}):
            if key in FORBIDDEN_FIELDS and not (key in _identity(spec) and path.startswith(".securityContext.")):
                assert key == "privileged" and value is False, f"{name}{path} = {value!r}"


def test_every_container_uses_the_shared_builder(templates):
    for name, spec in templates:
        if _elevated(spec):
            continue  # tests/test_scc_identities.py checks what each such SCC gets
        pod = {k: v for k, v in spec["securityContext"].items() if k not in _identity(spec)}
        assert pod == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, name
        for c in containers(spec):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}, (name, c["name"])
            assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}, (name, c["name"])
            # readOnlyRootFilesystem is decided per container; it must never be left to chance.
            assert sc["readOnlyRootFilesystem"] is True, f"{name}/{c['name']} writes its root filesystem"
        # Only the agent's glue talks to the Kubernetes API; no other pod gets a token.
        assert spec["enableServiceLinks"] is False, name
        assert spec["automountServiceAccountToken"] is (name == "Deployment/clearml-agent"), name


# Directories a volume may be mounted at without seeding, per image, and why. Any other mount point
# must be seeded from the image by an init container of the same pod.
NOT_SHIPPED = {
    "clearml/server": {
        "/tmp": "temp dir, empty in the image",
        "/var/log/clearml": "absent; the entrypoint mkdirs it (clearml-server entrypoint.sh)",
        "/mnt/fileserver": "absent; the upload folder",
        "/opt/clearml/config": "created empty by final_image_preparation.sh (mkdir -p /opt/clearml/config)",
        "/etc/clearml-openshift/python": "absent: a directory of this program's own (its Python modules)",
        "/opt/clearml/apiserver/apierrors/errors": "git-ignored generated code; seeded anyway (see clearml_image.py)",
        "/etc/clearml-web": "absent; this program's nginx config",
        "/etc/clearml-web-tls": "absent; the web server's certificate (reencrypt)",
        "/etc/clearml/elastic-ca": "absent (/etc/clearml is not in the image); the Elasticsearch CA",
        "/etc/clearml/secure": "absent (/etc/clearml is not in the image); the generated credentials' config files",
        "/backups": "absent; the backup sets' volume (backup Job)",
        "/opt/clearml-backup": "absent (the image has /opt/clearml only); the backup program's ConfigMap",
        "/etc/clearml/mongodb-ca": "absent (/etc/clearml is not in the image); an external MongoDB's CA",
        "/etc/clearml/redis-ca": "absent (/etc/clearml is not in the image); an external Redis's CA",
    },
    "clearml-agent-k8s-base": {
        "/tmp": "temp dir (also the glue's working directory and HOME)",
        "/etc/clearml-agent": "absent; the launcher and task template ConfigMap",
        "/opt/kubectl": "absent; kubectl copied in by an init container",
    },
    "library/mongo": {
        "/data/db": "empty VOLUME of the image",
        "/tmp": "temp dir",
        "/var/run/mongodb-keyfile": "absent",
        "/etc/mongodb-root": "absent; the root user's name and password from the Secret",
    },
    "library/redis": {"/data": "empty VOLUME/WORKDIR of the image", "/tmp": "temp dir", "/etc/redis-secret": "absent"},
    # The exporters (components/monitoring.py) mount nothing but the Elasticsearch CA.
    "percona/mongodb_exporter": {},
    "oliver006/redis_exporter": {},
    "prometheuscommunity/elasticsearch-exporter": {"/etc/elasticsearch-exporter/ca": "absent; the Elasticsearch CA"},
    "elasticsearch/elasticsearch": {
        "/usr/share/elasticsearch/data": "empty in the image",
        "/usr/share/elasticsearch/logs": "empty in the image",
        "/usr/share/elasticsearch/config/certs": "absent: only security auto-configuration creates it, at run time",
        "/etc/elasticsearch-password": "absent; the password file copied in by an init container",
        "/usr/share/elasticsearch/snapshots": "absent: the snapshot repository's volume (path.repo), with backups on",
        "/tmp": "temp dir",
    },
}


def _image_key(image: str) -> str:
    for key in NOT_SHIPPED:
        if key in image:
            return key
    raise AssertionError(f"unknown image {image}: add its shipped/not-shipped directories to NOT_SHIPPED")


def _seeded_by_init(spec: dict[str, Any], volume: str, path: str) -> bool:
    for init in spec.get("initContainers") or []:
        mounts = {m["name"]: m["mountPath"] for m in init.get("volumeMounts") or []}
        script = " ".join(init.get("command") or [])
        if volume in mounts and f'cp -R "{path}/." "{mounts[volume]}/"' in script:
            return True
    return False


def test_no_volume_hides_what_the_image_ships(templates):
    for name, spec in templates:
        for c in spec["containers"]:
            allowed = NOT_SHIPPED[_image_key(c["image"])]
            for mount in c.get("volumeMounts") or []:
                path = mount["mountPath"]
                seeded = _seeded_by_init(spec, mount["name"], path)
                assert path in allowed or seeded, (
                    f"{name}/{c['name']} mounts {mount['name']} over {path}, which may hold files shipped "
                    "in the image; seed it with an init container or document why it holds none"
                )


def test_seeded_directories_are_seeded_before_use(mocks):
    deploy_config(mocks, stack_config("dev"))
    specs = dict(pod_templates(mocks.resources))
    api = specs["Deployment/clearml-apiserver"]
    for path in ("/opt/clearml/apiserver/apierrors/errors", "/opt/clearml/apiserver/schema/services"):
        volume = next(m["name"] for m in api["containers"][0]["volumeMounts"] if m["mountPath"] == path)
        assert _seeded_by_init(api, volume, path)
    es = specs["StatefulSet/clearml-elastic"]
    assert _seeded_by_init(es, "config", "/usr/share/elasticsearch/config")
