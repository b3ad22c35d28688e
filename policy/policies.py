"""The rules of the clearml-openshift policy pack, as plain functions over Kubernetes manifests.

Each `check_*` function takes one manifest (a camelCase dict, as Pulumi hands a resource's inputs to
a policy pack: `args.props`) and returns the list of violations, empty when the manifest passes or
the rule does not apply to its kind. `POLICIES` wraps each of them into a mandatory
`ResourceValidationPolicy`; `__main__.py` puts exactly that list into the `PolicyPack`. Nothing
here constructs a `PolicyPack` (that starts a gRPC server), so tests import this module freely.

Unknown values (`pulumi preview` before the values they depend on exist) reach a policy pack as
sentinel strings. A rule that meets one where it needs a value cannot judge that part and reports
nothing for it; `up` analyses the same resources again with every value known.

Rules reuse the project's own definitions: `admission` (OpenShift SCC admission and Pod Security
`restricted`), `vocabulary.openshift` (the SCC names and the grant rule), and `policy.tls_verification`.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from admission import Namespace, admit, check_restricted, load_scc
from admission.scc import CONTAINER_LISTS, DATA
from policy.tls_verification import tls_verification_off
from program import sdk
from vocabulary import images
from vocabulary.openshift import ELEVATED_SCCS, REQUIRED_SCC_ANNOTATION, SCC_CLUSTER_ROLE_PREFIX, grant_refusal

Manifest = dict[str, Any]

# ---- values Pulumi does not know yet ---------------------------------------------------------------

UNKNOWNS = frozenset(sdk.unknown_values().values())


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWNS


def _has_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """`args.props` as plain dicts and lists, unknowns kept as their sentinel strings.

    pulumi_policy wraps the props in proxies that raise `UnknownValueError` on an unknown value,
    which would skip the whole policy for the resource with an advisory "can't run during preview";
    the rules here rather judge everything that is known."""
    proxied_dict = isinstance(value, Mapping) and not isinstance(value, dict)
    proxied_list = isinstance(value, Sequence) and not isinstance(value, (list, tuple, str, bytes))
    if proxied_dict or proxied_list:
        value = value["__target"]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _describe(manifest: Manifest) -> str:
    name = _dict(manifest.get("metadata")).get("name")
    return f"{manifest.get('kind', '?')} {name if isinstance(name, str) and not is_unknown(name) else '<unnamed>'}"


# ---- which resources are Kubernetes objects --------------------------------------------------------

# kubernetes:<group>/<version>:<Kind>; `core` is the legacy group. Patch resources carry a partial
# object (fields they leave out are not "missing"), Lists are collections: neither is judged.
_K8S_TYPE = re.compile(r"^kubernetes:(?P<group>[A-Za-z0-9.\-]+)/(?P<version>[A-Za-z0-9]+):(?P<kind>[A-Za-z0-9]+)$")


def kubernetes_manifest(resource_type: str, props: Any) -> Manifest | None:
    """The manifest of a Kubernetes object resource (apiVersion and kind filled in from the type
    token when absent), or None for anything else."""
    match = _K8S_TYPE.match(resource_type)
    if not match or match["kind"].endswith(("Patch", "List")):
        return None
    manifest = plain(props)
    if not isinstance(manifest, dict):
        return None
    group = "" if match["group"] == "core" else match["group"]
    manifest.setdefault("apiVersion", f"{group}/{match['version']}" if group else match["version"])
    manifest.setdefault("kind", match["kind"])
    return manifest


# ---- pod templates ------------------------------------------------------------------------------------

LONG_RUNNING_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")
RUN_TO_COMPLETION_KINDS = ("Job", "CronJob")
WORKLOAD_KINDS = (*LONG_RUNNING_KINDS, *RUN_TO_COMPLETION_KINDS, "Pod", "PodTemplate")


class PodTemplate:
    """One pod a workload would create: its spec, the template's annotations, and whether its
    regular containers are meant to keep running (they then need probes)."""

    def __init__(self, where: str, spec: Any, annotations: Any, long_running: bool) -> None:
        self.where = where
        self.spec = spec
        self.annotations = annotations
        self.long_running = long_running

    @property
    def known(self) -> bool:
        return isinstance(self.spec, dict)

    def containers(self) -> list[tuple[str, dict[str, Any], bool]]:
        """(`initContainers[0] name`, container, long-running) for every container whose entry is known.
        Init containers with `restartPolicy: Always` are sidecars: they keep running too."""
        out = []
        for field in CONTAINER_LISTS:
            for index, container in enumerate(_list(_dict(self.spec).get(field))):
                if not isinstance(container, dict):
                    continue
                name = container.get("name")
                label = f"{field}[{index}]" + (f" {name}" if isinstance(name, str) and not is_unknown(name) else "")
                if field == "containers":
                    running = self.long_running
                elif field == "initContainers":
                    running = container.get("restartPolicy") == "Always"
                else:
                    running = False
                out.append((label, container, running))
        return out


def pod_templates(manifest: Manifest) -> list[PodTemplate]:
    kind = manifest.get("kind")
    if kind not in WORKLOAD_KINDS:
        return []
    where = _describe(manifest)
    spec = manifest.get("spec")
    if kind == "Pod":
        restart = _dict(spec).get("restartPolicy", "Always")
        return [PodTemplate(where, spec, _dict(manifest.get("metadata")).get("annotations"), restart == "Always")]
    if kind == "PodTemplate":
        template = manifest.get("template")
        return [PodTemplate(where, _dict(template).get("spec") if isinstance(template, dict) else template,
                            _dict(_dict(template).get("metadata")).get("annotations"), False)]
    if kind == "CronJob":
        job = _dict(spec).get("jobTemplate")
        spec = _dict(job).get("spec") if isinstance(job, dict) else job
    template = _dict(spec).get("template") if isinstance(spec, dict) else spec
    return [PodTemplate(where, _dict(template).get("spec") if isinstance(template, dict) else template,
                        _dict(_dict(template).get("metadata")).get("annotations"), kind in LONG_RUNNING_KINDS)]


# ---- rule 1: restricted-v2 (or the pinned SCC) as OpenShift admits the pod -----------------------------

REQUIRED_SCC = REQUIRED_SCC_ANNOTATION
# SCCs the policy can judge: the upstream objects in admission/data (not the dated release copies).
JUDGEABLE_SCCS = tuple(sorted(p.stem for p in DATA.glob("*.yaml") if "-release-" not in p.stem))
# Where an unknown value changes what admission decides. Anywhere else (env values, commands,
# labels, ...) it is replaced by a placeholder and the rest of the pod is judged.
_ADMISSION_FIELDS = frozenset({
    "securityContext", "volumes", "hostNetwork", "hostPID", "hostIPC", "hostUsers", "ports", "os",
})


def _admission_view(spec: dict[str, Any]) -> dict[str, Any] | None:
    """`spec` with irrelevant unknowns replaced, or None when an unknown decides admission."""
    undecidable = False

    def walk(value: Any, path: tuple[Any, ...]) -> Any:
        nonlocal undecidable
        if is_unknown(value):
            parent = path[-2] if len(path) >= 2 else None
            if not path or any(p in _ADMISSION_FIELDS for p in path) or path[-1] in CONTAINER_LISTS \
                    or parent in CONTAINER_LISTS:
                undecidable = True
            return "unknown-during-preview"
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    view = walk(spec, ())
    return None if undecidable else view


def check_scc_admission(manifest: Manifest) -> list[str]:
    """Every pod template is admitted by OpenShift under restricted-v2 (or the SCC it pins with
    `openshift.io/required-scc`), as the API server computes it: mutation, then the UID range,
    fsGroup, SELinux, capabilities, seccomp, host access and volume type checks."""
    errors = []
    for pod in pod_templates(manifest):
        annotations = pod.annotations if isinstance(pod.annotations, dict) else {}
        if not pod.known or is_unknown(pod.annotations) or is_unknown(annotations.get(REQUIRED_SCC)):
            continue
        scc = annotations.get(REQUIRED_SCC, "restricted-v2")
        if scc not in JUDGEABLE_SCCS:
            errors.append(f"{pod.where}: pins the SCC {scc!r} ({REQUIRED_SCC}), which this policy cannot judge "
                          f"(known: {', '.join(JUDGEABLE_SCCS)})")
            continue
        view = _admission_view(pod.spec)
        if view is None:
            continue
        _, violations = admit(view, load_scc(scc), Namespace())
        errors += [f"{pod.where}: not admitted under {scc}: {v}" for v in violations]
    return errors


# ---- rule 2: Pod Security restricted ---------------------------------------------------------------------


def check_pod_security_restricted(manifest: Manifest) -> list[str]:
    """Every pod template meets the Kubernetes Pod Security `restricted` profile as written
    (Pod Security admission fills nothing in), except a pod pinned to an SCC that runs as root or
    reaches the host (anyuid, ...): such a grant is what the scc-grants rule makes you acknowledge, and
    OpenShift then labels the namespace for a laxer profile itself."""
    errors = []
    for pod in pod_templates(manifest):
        if not pod.known or is_unknown(pod.annotations):
            continue
        annotations = pod.annotations if isinstance(pod.annotations, dict) else {}
        if annotations.get(REQUIRED_SCC_ANNOTATION) in ELEVATED_SCCS:
            continue
        view = _admission_view(pod.spec)
        if view is None or any(is_unknown(v) for k, v in annotations.items() if "apparmor" in k):
            continue
        errors += [f"{pod.where}: Pod Security restricted: {v}" for v in check_restricted(view, annotations)]
    return errors


# ---- rule 3: SCC grants -----------------------------------------------------------------------------------

SCC_ROLE_PREFIX = SCC_CLUSTER_ROLE_PREFIX


def _scc_grant_problem(scc: str, acknowledged: Sequence[str]) -> str | None:
    refusal = grant_refusal(scc, acknowledged, "the policy config acknowledges it: --policy-pack-config with "
                                               f'{{"scc-grants": {{"acknowledge": ["{scc}"]}}}}')
    return f"grants the SCC {refusal}" if refusal else None


def check_scc_grants(manifest: Manifest, acknowledge: Sequence[str] = ()) -> list[str]:
    """No SCC beyond nonroot-v2 without acknowledgement: RoleBindings and ClusterRoleBindings to
    `system:openshift:scc:<scc>`, and Roles/ClusterRoles allowing `use` of SCCs."""
    kind = manifest.get("kind")
    where = _describe(manifest)
    errors = []
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        role = _dict(manifest.get("roleRef")).get("name")
        if isinstance(role, str) and role.startswith(SCC_ROLE_PREFIX):
            problem = _scc_grant_problem(role[len(SCC_ROLE_PREFIX):], acknowledge)
            if problem:
                errors.append(f"{where}: {problem}")
    elif kind in ("Role", "ClusterRole"):
        for index, rule in enumerate(_list(manifest.get("rules"))):
            if not isinstance(rule, dict) or _has_unknown(rule):
                continue
            groups, resources, verbs = (set(_list(rule.get(k))) for k in ("apiGroups", "resources", "verbs"))
            if not (groups & {"security.openshift.io", "*"} and resources & {"securitycontextconstraints", "*"}
                    and verbs & {"use", "*"}):
                continue
            names = _list(rule.get("resourceNames"))
            if not names:
                errors.append(f"{where}: rules[{index}] allows `use` of every SCC")
            for scc in names:
                problem = _scc_grant_problem(str(scc), acknowledge)
                if problem:
                    errors.append(f"{where}: rules[{index}] {problem}")
    return errors


SCC_GRANTS_CONFIG = PolicyConfigSchema(
    properties={
        "acknowledge": {
            "type": "array",
            "items": {"type": "string", "enum": list(ELEVATED_SCCS)},
            "uniqueItems": True,
            "default": [],
            "description": "SCCs beyond nonroot-v2 (root or host access) that may be granted.",
        },
    },
)


# ---- rule 4: TLS on every Route and Ingress ---------------------------------------------------------------

ROUTE_TERMINATIONS = ("edge", "reencrypt", "passthrough")


def _host_covered(host: str, tls_hosts: list[str]) -> bool:
    for pattern in tls_hosts:
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def check_edge_tls(manifest: Manifest) -> list[str]:
    """Routes terminate TLS (edge, reencrypt or passthrough) and never serve plain HTTP
    (insecureEdgeTerminationPolicy Allow); an Ingress has spec.tls covering every rule host."""
    kind = manifest.get("kind")
    api = str(manifest.get("apiVersion", ""))
    where = _describe(manifest)
    spec = manifest.get("spec")
    if is_unknown(spec):
        return []
    spec = _dict(spec)
    if kind == "Route" and api.startswith("route.openshift.io/"):
        tls = spec.get("tls")
        if is_unknown(tls):
            return []
        if not isinstance(tls, dict):
            return [f"{where}: no spec.tls: the route serves plain HTTP"]
        errors = []
        termination = tls.get("termination")
        if not is_unknown(termination) and termination not in ROUTE_TERMINATIONS:
            errors.append(f"{where}: spec.tls.termination is {termination!r}, not one of {', '.join(ROUTE_TERMINATIONS)}")
        if tls.get("insecureEdgeTerminationPolicy") == "Allow":
            errors.append(f"{where}: spec.tls.insecureEdgeTerminationPolicy Allow serves the route over plain HTTP too")
        return errors
    if kind == "Ingress" and api.startswith(("networking.k8s.io/", "extensions/")):
        tls = spec.get("tls")
        if is_unknown(tls) or any(is_unknown(t) for t in _list(tls)):
            return []
        tls = [t for t in _list(tls) if isinstance(t, dict)]
        if not tls:
            return [f"{where}: no spec.tls: the ingress serves plain HTTP"]
        if any(is_unknown(t.get("hosts")) for t in tls):
            return []
        tls_hosts = [h for t in tls for h in _list(t.get("hosts")) if isinstance(h, str)]
        catch_all = any(not _list(t.get("hosts")) for t in tls)
        errors = []
        rules = spec.get("rules")
        for index, rule in enumerate(_list(rules)):
            host = _dict(rule).get("host")
            if is_unknown(host):
                continue
            if not host:
                if not catch_all:
                    errors.append(f"{where}: rules[{index}] has no host, and no spec.tls entry without hosts covers it")
            elif not _host_covered(host, tls_hosts) and not catch_all:
                errors.append(f"{where}: rules[{index}] host {host} is not covered by spec.tls")
        return errors
    return []


# ---- rule 5: no literal secret values in env or ConfigMaps -----------------------------------------------

# Name tokens that make an env var (or ConfigMap key) secret-bearing wherever they appear...
_SECRET_TOKENS = frozenset({
    "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS", "APIKEY", "ACCESSKEY",
    "SECRETKEY", "PRIVATEKEY", "CONNSTR", "CONNECTIONSTRING",
})
# ...only as the last token (`..._KEY`, `REDISCLI_AUTH`, `AWS_CREDENTIALS`, `SENTRY_DSN`): elsewhere
# they name sections (`CLEARML__apiserver__auth__cookies__domain`, `CLEARML__secure__credentials__<user>__role`).
_SECRET_LAST_TOKENS = frozenset({"KEY", "AUTH", "PASS", "PWD", "DSN", "CREDENTIAL", "CREDENTIALS", "CREDS"})
# Adjacent pairs.
_SECRET_PAIRS = frozenset({("CONNECTION", "STRING"), ("CONN", "STRING"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"),
                           ("SECRET", "KEY"), ("API", "KEY"), ("USER", "KEY"), ("ENCRYPTION", "KEY"),
                           ("SIGNING", "KEY"), ("MASTER", "KEY"), ("SESSION", "KEY")})
# Names that only point at a secret, or describe it.
_NOT_SECRET_LAST_TOKENS = frozenset({
    "FILE", "PATH", "DIR", "NAME", "REF", "URL", "ENDPOINT", "ENABLED", "REQUIRED", "TTL", "EXPIRY", "TIMEOUT",
    "LENGTH", "SIZE", "TYPE", "MODE", "ALGORITHM", "HEADER", "FIELD", "POLICY", "ROTATION",
})
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})


def secret_bearing(name: str) -> bool:
    """Whether an env var or config key of this name carries a secret value."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", name.upper()) if t]
    if not tokens or name.upper() in _NOT_SECRET_NAMES or tokens[-1] in _NOT_SECRET_LAST_TOKENS:
        return False
    if tokens[-1] == "KEY" and len(tokens) > 1 and tokens[-2] == "PUBLIC":
        return False
    if any(t in _SECRET_TOKENS for t in tokens) or tokens[-1] in _SECRET_LAST_TOKENS:
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(tokens))


def _harmless_literal(value: str) -> bool:
    """Values a secret-bearing name may carry literally: empty, flags, numbers, file paths."""
    v = value.strip().strip("\"'")
    if v.lower() in ("", "true", "false", "yes", "no", "on", "off", "none", "null", "0", "1"):
        return True
    if re.fullmatch(r"[0-9]+[smhd]?", v):  # lengths, TTLs, ports
        return True
    return bool(re.fullmatch(r"/[\w.\-/]*|[\w.\-]+(/[\w.\-]+)*\.(?:key|pem|crt|cert|p12|pfx|jks|json|txt)", v))


_REFERENCE = re.compile(r"^(?:\$|\{\{|%\(|%s|<|\*+$)")
_SECRET_CONTENT: list[tuple[str, re.Pattern[str]]] = [
    ("a private key", re.compile("-----BEGIN (?:[A-Z0-9]+ )*PRIV" + "ATE KEY-----")),
    ("a Redis password", re.compile(r"(?im)(?:^[ \t]*|--)(?:require" + r"pass|master" + r"auth)[ \t]+(?P<v>\S+)")),
    ("credentials in a URL", re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://(?P<u>[^\s/:@\"'<>{}()$]+):(?P<v>[^\s/@\"']+)@")),
    # password=..., "token": "...", and camelCase keys (trustStorePassword=...).
    ("a literal credential", re.compile(
        r"""(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))(?P<k>(?i:password|passwd|pwd|passphrase|secret|token|"""
        r"""api[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret|auth[_-]?token))(?![a-z])"""
        r"""["']?[ \t]*[:=][ \t]*(?P<q>["']?)(?P<v>[^\s"',;&}\])(\[#]*)(?P<after>.?)""")),
]


def secret_content(text: str) -> list[str]:
    """What in `text` looks like a literal secret (a description per finding)."""
    found = []
    for what, pattern in _SECRET_CONTENT:
        for match in pattern.finditer(text):
            value = match.groupdict().get("v")
            if value is not None:
                if not value or _REFERENCE.match(value) or value.lower() in ("null", "none", "true", "false", "~"):
                    continue
                # Unquoted code that reads it from elsewhere: os.environ[...], get_password(), conf.pw
                if what == "a literal credential" and not match["q"] and (
                        match["after"] in ("(", "[", ".") or re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", value)):
                    continue
            found.append(what)
            break
    return found


def _env_values(container: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, literal value) of every env entry that has a literal `value`."""
    out = []
    for item in _list(container.get("env")):
        if isinstance(item, dict) and "value" in item and isinstance(item.get("name"), str):
            out.append((item["name"], item["value"]))
    return out


def _embedded_pods(text: str) -> list[dict[str, Any]]:
    """Pod templates kept as text in a ConfigMap (e.g. the agent's task-pod template.yaml)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if isinstance(doc, dict) and isinstance(_dict(doc.get("spec")).get("containers"), list):
        return [doc["spec"]]
    return []


# A value that is only Kubernetes' reference to another env var of the container (`$(NAME)`, maybe
# in quotes, as a config parser needs it): the kubelet substitutes it when the container starts.
_DEPENDENT_ENV = re.compile(r'^"?\$\(([A-Za-z_][A-Za-z0-9_]*)\)"?$')


def _secret_sourced(container: dict[str, Any]) -> set[str]:
    """Names of the container's env vars that come from a Secret (valueFrom.secretKeyRef)."""
    return {item["name"] for item in _list(container.get("env"))
            if isinstance(item, dict) and isinstance(item.get("name"), str)
            and isinstance(_dict(item.get("valueFrom")).get("secretKeyRef"), dict)}


def _literal_env_secrets(where: str, containers: list[tuple[str, dict[str, Any]]]) -> list[str]:
    errors = []
    for label, container in containers:
        from_secrets = _secret_sourced(container)
        for name, value in _env_values(container):
            if is_unknown(value) or not isinstance(value, str):
                continue
            if (ref := _DEPENDENT_ENV.match(value)) and ref.group(1) in from_secrets:
                continue
            if secret_bearing(name) and not _harmless_literal(value):
                errors.append(f"{where}: {label}: env {name} has a literal value; take it from a Secret (valueFrom.secretKeyRef)")
            elif secret_content(value):
                errors.append(f"{where}: {label}: env {name} holds {secret_content(value)[0]}; take it from a Secret")
    return errors


def _configmap_entries(manifest: Manifest) -> list[tuple[str, str]]:
    entries = []
    for key, value in _dict(manifest.get("data")).items():
        if isinstance(value, str) and not is_unknown(value):
            entries.append((key, value))
    for key, value in _dict(manifest.get("binaryData")).items():
        if isinstance(value, str) and not is_unknown(value):
            try:
                entries.append((key, base64.b64decode(value).decode()))
            except (ValueError, UnicodeDecodeError):
                continue
    return entries


def check_no_literal_secrets(manifest: Manifest) -> list[str]:
    """Secret-bearing env vars (PASSWORD, SECRET, TOKEN, ..._KEY, CREDENTIALS, CONNECTION_STRING, ...)
    come from Secrets (valueFrom.secretKeyRef), no env value or command line embeds a credential, and
    no ConfigMap holds a secret (password=, requirepass, private keys, user:password@ URLs)."""
    where = _describe(manifest)
    errors = []
    if manifest.get("kind") == "ConfigMap":
        for key, text in _configmap_entries(manifest):
            findings = secret_content(text)
            for what in findings:
                errors.append(f"{where}: data key {key} holds {what}; keep it in a Secret")
            if not findings and secret_bearing(key) and not _harmless_literal(text):
                errors.append(f"{where}: data key {key} holds a secret-named literal value; keep it in a Secret")
            for pod in _embedded_pods(text):
                embedded = [(f"{key}: {label}", c) for label, c, _ in PodTemplate(where, pod, {}, False).containers()]
                errors += _literal_env_secrets(where, embedded)
        return errors
    for pod in pod_templates(manifest):
        containers = [(label, c) for label, c, _ in pod.containers()]
        errors += _literal_env_secrets(pod.where, containers)
        for label, container in containers:
            for text in _command_lines(container):
                for what in secret_content(text):
                    errors.append(f"{pod.where}: {label}: the command line holds {what}; read it from a Secret")
    return errors


# ---- rule 6: TLS verification stays on ---------------------------------------------------------------------

_FALSY = ("false", "0", "no", "off", "none")
_TRUTHY = ("true", "1", "yes", "on")


def _command_lines(container: dict[str, Any]) -> list[str]:
    """Every command the container runs: command + args, probe and lifecycle exec commands."""
    lines = []
    main = [s for s in _list(container.get("command")) + _list(container.get("args")) if isinstance(s, str)]
    if main:
        lines.append(" ".join(main))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            exec_ = value.get("exec")
            if isinstance(exec_, dict):
                command = [s for s in _list(exec_.get("command")) if isinstance(s, str)]
                if command:
                    lines.append(" ".join(command))
            for key, item in value.items():
                if key != "exec":
                    walk(item)

    for field in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
        walk(container.get(field))
    return [line for line in lines if not is_unknown(line)]


def _env_switches_verification_off(name: str, value: str) -> str | None:
    upper = name.upper()
    tokens = [t for t in re.split(r"[^A-Z0-9]+", upper) if t]
    v = value.strip().strip("\"'").lower()
    if upper == "GIT_SSL_NO_VERIFY" and v:
        return f"{name}={value}"
    if upper in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE") and not v:
        return f"{name} is empty (requests then skips verification)"
    if ("INSECURE" in tokens or ("SKIP" in tokens and any(t.startswith("VERIF") for t in tokens))
            or ("NO" in tokens and "VERIFY" in tokens)) and v in _TRUTHY:
        return f"{name}={value}"
    if any(t in ("VERIFY", "VERIFYCERT", "VERIFYCERTS", "SSLVERIFY", "TLSVERIFY") for t in tokens) \
            and "NO" not in tokens and "SKIP" not in tokens and v in _FALSY:
        return f"{name}={value}"
    found = tls_verification_off(f"{name}={value}")
    return found[0] if found else None


def check_tls_verification(manifest: Manifest) -> list[str]:
    """Nothing switches certificate verification off: env values, command lines, probes, lifecycle
    hooks and ConfigMap data are checked against the patterns of policy.tls_verification (the ones
    tests/test_edge_tls.py applies to the whole repository), and env vars by name: *VERIFY* set to a
    false value, *INSECURE*/*SKIP*VERIFY* set to a true one, git's no-verify variable set at all, and
    an empty CA bundle for curl or requests."""
    where = _describe(manifest)
    errors = []

    def env_checks(label: str, container: dict[str, Any]) -> None:
        for name, value in _env_values(container):
            if isinstance(value, str) and not is_unknown(value):
                found = _env_switches_verification_off(name, value)
                if found:
                    errors.append(f"{where}: {label}: env switches TLS verification off ({found})")

    if manifest.get("kind") == "ConfigMap":
        for key, text in _configmap_entries(manifest):
            for found in tls_verification_off(text):
                errors.append(f"{where}: data key {key} switches TLS verification off ({found})")
            for pod in _embedded_pods(text):
                for label, container, _ in PodTemplate(where, pod, {}, False).containers():
                    env_checks(f"{key}: {label}", container)
        return errors
    for pod in pod_templates(manifest):
        where = pod.where
        for label, container, _ in pod.containers():
            env_checks(label, container)
            for line in _command_lines(container):
                for found in tls_verification_off(line):
                    errors.append(f"{where}: {label}: the command line switches TLS verification off ({found})")
    return errors


# ---- rule 7: requests, limits and probes --------------------------------------------------------------------


def check_resources_and_probes(manifest: Manifest) -> list[str]:
    """Every container sets cpu and memory requests and limits; containers that keep running
    (Deployments, StatefulSets, DaemonSets, Pods that restart, sidecars) also have readiness and
    liveness probes. Init containers and Job/CronJob containers need requests and limits only."""
    errors = []
    for pod in pod_templates(manifest):
        for label, container, running in pod.containers():
            if label.startswith("ephemeralContainers"):
                continue  # cannot set resources or probes
            resources = container.get("resources")
            if not is_unknown(resources):
                resources = _dict(resources)
                for bound in ("requests", "limits"):
                    values = resources.get(bound)
                    if is_unknown(values):
                        continue
                    missing = [r for r in ("cpu", "memory") if _dict(values).get(r) in (None, "")]
                    if missing:
                        errors.append(f"{pod.where}: {label}: no {bound}.{' or '.join(missing)}")
            if running:
                missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
                if missing:
                    errors.append(f"{pod.where}: {label}: no {' and no '.join(missing)}")
    return errors


# ---- rule 8: pinned images --------------------------------------------------------------------------------------


def check_pinned_images(manifest: Manifest) -> list[str]:
    """Every container image is pinned: a digest, or a tag other than `latest`."""
    errors = []
    for pod in pod_templates(manifest):
        for label, container, _ in pod.containers():
            image = container.get("image")
            if is_unknown(image):
                continue
            if not isinstance(image, str) or not image:
                errors.append(f"{pod.where}: {label}: no image")
                continue
            problem = images.pinning_problem(image)
            if problem:
                errors.append(f"{pod.where}: {label}: image {image} is not pinned: {problem}")
    return errors


# ---- the policies -------------------------------------------------------------------------------------------

# Policy name -> check. The pack reports "<description>\n<message>" for each violation.
CHECKS: dict[str, Callable[..., list[str]]] = {
    "restricted-v2-admission": check_scc_admission,
    "pod-security-restricted": check_pod_security_restricted,
    "scc-grants": check_scc_grants,
    "edge-tls": check_edge_tls,
    "no-literal-secrets": check_no_literal_secrets,
    "tls-verification-on": check_tls_verification,
    "resources-and-probes": check_resources_and_probes,
    "pinned-images": check_pinned_images,
}
DESCRIPTIONS = {
    "restricted-v2-admission": "Every pod template is admitted by OpenShift under restricted-v2 (or the SCC it pins "
                               "with openshift.io/required-scc), UID range, fsGroup and volume types included.",
    "pod-security-restricted": "Every pod template meets the Kubernetes Pod Security restricted profile, unless it "
                               "is pinned to an SCC the scc-grants rule must acknowledge (anyuid, privileged, host*).",
    "scc-grants": "No SCC beyond nonroot-v2 is granted unless the policy config acknowledges it, and no custom SCC.",
    "edge-tls": "Every Route terminates TLS and never allows plain HTTP; every Ingress host is covered by spec.tls.",
    "no-literal-secrets": "Secret values come from Secrets: none literal in env, command lines or ConfigMaps.",
    "tls-verification-on": "Nothing switches TLS certificate verification off.",
    "resources-and-probes": "Every container sets cpu/memory requests and limits; long-running containers have "
                            "readiness and liveness probes.",
    "pinned-images": "Every container image is pinned by a digest or a tag other than latest.",
}
CONFIGURED = {"scc-grants": SCC_GRANTS_CONFIG}


def _acknowledged(config: Mapping[str, Any]) -> list[str]:
    value = config.get("acknowledge") if isinstance(config, Mapping) else None
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else []


def _validator(name: str, check: Callable[..., list[str]]):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        manifest = kubernetes_manifest(args.resource_type, args.props)
        if manifest is None:
            return
        if name == "scc-grants":
            messages = check(manifest, _acknowledged(args.get_config()))
        else:
            messages = check(manifest)
        for message in messages:
            report_violation(message, None)

    validate.__name__ = f"validate_{name.replace('-', '_')}"
    return validate


POLICIES: list[ResourceValidationPolicy] = [
    ResourceValidationPolicy(
        name=name,
        description=DESCRIPTIONS[name],
        validate=_validator(name, check),
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=CONFIGURED.get(name),
    )
    for name, check in CHECKS.items()
]


def violations(resource_type: str, props: Any, config: Mapping[str, Mapping[str, Any]] | None = None
               ) -> dict[str, list[str]]:
    """Run every policy on one resource the way the analyzer does (props behind pulumi_policy's
    unknown-checking proxy); {policy name: messages} for the policies it violates."""
    out: dict[str, list[str]] = {}
    wrapped = sdk.unknown_checking_proxy(props) if isinstance(props, dict) else props
    for policy in POLICIES:
        found: list[str] = []
        args = ResourceValidationArgs(resource_type, wrapped, f"urn:pulumi:test::test::{resource_type}::x", "x",
                                      {}, None, dict((config or {}).get(policy.name) or {}))
        policy.validate(args, lambda message, urn=None, found=found: found.append(message))
        if found:
            out[policy.name] = found
    return out


__all__ = ["CHECKS", "POLICIES", "check_edge_tls", "check_no_literal_secrets", "check_pinned_images",
           "check_pod_security_restricted", "check_resources_and_probes", "check_scc_admission",
           "check_scc_grants", "check_tls_verification", "violations"]
