"""Validate Route, Certificate, Issuer, ClusterIssuer, ServiceMonitor, PrometheusRule, and Velero Schedule and
Backup manifests offline, against the upstream CRDs.

`validate(manifest)` returns a list of problems (empty: valid). It picks the CRD by `apiVersion` and
`kind` from `tests/data/crds/` (byte-for-byte upstream copies, see SOURCES.md) and checks, in the
order the API server does:

1. `metadata`: `name` a DNS-1123 subdomain; `namespace` present for namespaced kinds, absent for
   cluster-scoped ones (a ClusterIssuer).
2. null values of non-nullable fields are dropped and `default`s filled in (the API server prunes
   such nulls and defaults before validating: a Route without `to.kind` is valid).
3. the version's `openAPIV3Schema`, converted to JSON Schema and checked with `jsonschema`:
   `x-kubernetes-int-or-string` becomes integer-or-string, `nullable` admits null,
   `x-kubernetes-preserve-unknown-fields` leaves an object open, any other `x-kubernetes-*` key is
   ignored, and `pattern`s are read as Go's RE2 reads them (`python_pattern`). Unknown fields are
   errors (the API server would silently drop them, or refuse them with strict field validation;
   either way they are mistakes). String formats `byte` and `date-time` are checked as the API
   server does.
4. the CRD's `x-kubernetes-validations` (CEL) rules, each implemented as a Python predicate keyed
   by its exact rule text. A rule text this module does not know raises `UnknownRule` as soon as
   the CRD is loaded: a refreshed upstream CRD with a new rule can never be silently skipped.

Not covered: checks that live outside the CRDs (cert-manager's webhook: at least one SAN,
duration >= 1h, renewBefore < duration; OpenShift's route validation in library-go; the Prometheus
operator's admission webhook, which parses PrometheusRule expressions), and the uniqueness the API
server enforces for `x-kubernetes-list-type: map`/`set` lists (a PrometheusRule's group names).
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

CRD_DIR = Path(__file__).resolve().parent / "data" / "crds"
CRD_FILES = {
    ("route.openshift.io", "Route"): "routes.crd.yaml",
    ("cert-manager.io", "Certificate"): "cert-manager.io_certificates.yaml",
    ("cert-manager.io", "Issuer"): "cert-manager.io_issuers.yaml",
    ("cert-manager.io", "ClusterIssuer"): "cert-manager.io_clusterissuers.yaml",
    ("monitoring.coreos.com", "ServiceMonitor"): "monitoring.coreos.com_servicemonitors.yaml",
    ("monitoring.coreos.com", "PrometheusRule"): "monitoring.coreos.com_prometheusrules.yaml",
    ("velero.io", "Schedule"): "velero.io_schedules.yaml",
    ("velero.io", "Backup"): "velero.io_backups.yaml",
}


class UnknownRule(Exception):
    """A CEL rule of a CRD has no Python predicate here: implement it (see RULES) before validating."""


# ------------------------------------------------------------------------------------------------
# CEL rules, as Python predicates of `self` (the value at the rule's schema node)
# ------------------------------------------------------------------------------------------------

def _lower_ascii(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


# The dynamic header value rule, from the CEL string literal: `\\` unescaped, `$` as end of text
# (RE2), `[:cntrl:]` spelled out (Python's `re` has no POSIX classes). FETCHER is req or res.
_HEADER_VALUE = (r"(?:%(?:%|(?:\{[-+]?[QXE](?:,[-+]?[QXE])*\})?\[(?:FETCHER\.hdr\([0-9A-Za-z-]+\)|ssl_c_der)"
                 r"(?:,(?:lower|base64))*\])|[^%\x00-\x1f\x7f])+")
_HEADER_VALUE_RULE = (r"""self.all(key, key.action.type == "Delete" || (has(key.action.set) && """
                      r"""key.action.set.value.matches('^(?:%(?:%|(?:\\{[-+]?[QXE](?:,[-+]?[QXE])*\\})?\\[(?:FETCHER\\.hdr"""
                      r"""\\([0-9A-Za-z-]+\\)|ssl_c_der)(?:,(?:lower|base64))*\\])|[^%[:cntrl:]])+$')))""")


def _header_values(fetcher: str) -> Callable[[Any], bool]:
    pattern = re.compile(_HEADER_VALUE.replace("FETCHER", fetcher))

    def check(actions: list) -> bool:
        return all(item["action"]["type"] == "Delete"
                   or ("set" in item["action"] and pattern.fullmatch(item["action"]["set"]["value"]) is not None)
                   for item in actions)
    return check


RULES: dict[str, Callable[[Any], bool]] = {
    # Route spec
    "!has(self.tls) || self.tls.termination != 'passthrough' || !has(self.httpHeaders)":
        lambda s: "tls" not in s or s["tls"]["termination"] != "passthrough" or "httpHeaders" not in s,
    # Route spec.tls
    "has(self.termination) && has(self.insecureEdgeTerminationPolicy) ? "
    "!((self.termination=='passthrough') && (self.insecureEdgeTerminationPolicy=='Allow')) : true":
        lambda s: not ("termination" in s and "insecureEdgeTerminationPolicy" in s)
        or not (s["termination"] == "passthrough" and s["insecureEdgeTerminationPolicy"] == "Allow"),
    "!(has(self.certificate) && has(self.externalCertificate))":
        lambda s: not ("certificate" in s and "externalCertificate" in s),
    # Route spec.httpHeaders.actions.{request,response}[] and their items
    "has(self.type) && self.type == 'Set' ? has(self.set) : !has(self.set)":
        lambda s: ("set" in s) if s.get("type") == "Set" else ("set" not in s),
    "self.lowerAscii() != 'strict-transport-security'": lambda s: _lower_ascii(s) != "strict-transport-security",
    "self.lowerAscii() != 'proxy'": lambda s: _lower_ascii(s) != "proxy",
    "self.lowerAscii() != 'cookie'": lambda s: _lower_ascii(s) != "cookie",
    "self.lowerAscii() != 'set-cookie'": lambda s: _lower_ascii(s) != "set-cookie",
    _HEADER_VALUE_RULE.replace("FETCHER", "req"): _header_values("req"),
    _HEADER_VALUE_RULE.replace("FETCHER", "res"): _header_values("res"),
    # Issuer/ClusterIssuer spec.venafi
    "(has(self.tpp) ? 1 : 0) + (has(self.cloud) ? 1 : 0) + (has(self.ngts) ? 1 : 0) == 1":
        lambda s: sum(k in s for k in ("tpp", "cloud", "ngts")) == 1,
}


def rule_key(rule: str) -> str:
    """Rule text with YAML line folding undone (whitespace runs collapse to one space)."""
    return " ".join(rule.split())


# ------------------------------------------------------------------------------------------------
# Loading a CRD and converting its schema
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    namespaced: bool
    schemas: dict[str, dict[str, Any]]  # served version -> openAPIV3Schema

    def validator(self, version: str) -> Draft202012Validator:
        return _validator(self.group, self.kind, version)


def _rules(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for rule in node.get("x-kubernetes-validations") or []:
            yield path, rule
        for key, value in node.items():
            yield from _rules(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _rules(value, f"{path}[{i}]")


@functools.cache
def load(group: str, kind: str) -> Crd:
    try:
        file = CRD_FILES[(group, kind)]
    except KeyError:
        raise ValueError(f"no CRD here for {kind} in group {group!r} (known: {sorted(CRD_FILES)})") from None
    # libyaml's safe loader when PyYAML has it: the same data, ~10x faster on these 300 kB files.
    crd = yaml.load((CRD_DIR / file).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    spec = crd["spec"]
    assert spec["group"] == group and spec["names"]["kind"] == kind, file
    schemas = {v["name"]: v["schema"]["openAPIV3Schema"] for v in spec["versions"] if v.get("served")}
    for version, schema in schemas.items():
        for path, rule in _rules(schema):
            if rule_key(rule["rule"]) not in RULES:
                raise UnknownRule(f"{file} {version}{path}: no predicate for CEL rule {rule['rule']!r}")
    return Crd(group, kind, spec["scope"] == "Namespaced", schemas)


_INLINE_FLAGS = re.compile(r"\(\?([ims]+)\)")  # RE2's U (ungreedy) has no Python equivalent


def python_pattern(pattern: str) -> str:
    """A CRD `pattern` (Go's RE2 syntax, as the API server matches it) for Python's `re`.

    RE2 lets an inline flag group such as `(?i)` stand anywhere and applies it to the rest of the group
    it is in (`^(?i)(abort|warn)?$` in the PrometheusRule CRD); Python 3.11 refuses global flags after
    the start. Such a group becomes Python's scoped form, `(?i:...)` around that rest. Everything else
    the CRDs here use means the same in both."""
    out, i, depth, in_class, opened = [], 0, 0, False, []
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif (flags := _INLINE_FLAGS.match(pattern, i)) and i > 0:
            out.append(f"(?{flags.group(1)}:")
            opened.append(depth)  # closed where the enclosing group (or the pattern) ends
            i = flags.end()
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            while opened and opened[-1] == depth:
                out.append(")")
                opened.pop()
            depth -= 1
        out.append(char)
        i += 1
    return "".join(out) + ")" * len(opened)


def to_json_schema(node: dict[str, Any], structural: bool = True) -> dict[str, Any]:
    """A Kubernetes structural schema as JSON Schema. `structural` is False inside allOf/anyOf/oneOf/not,
    whose `properties` only constrain values and must not close the object."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "description", "default", "example"):
            continue
        if value is None:  # e.g. `anyOf: null` in the Route CRD: no constraint
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub, structural) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value, structural)
        elif key == "not":
            out[key] = to_json_schema(value, False)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub, False) for sub in value]
        elif key == "pattern":
            out[key] = python_pattern(value)
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("nullable"):
        if "type" in out:
            out["type"] = sorted(set(out["type"] if isinstance(out["type"], list) else [out["type"]]) | {"null"})
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if (structural and "properties" in out and "additionalProperties" not in out
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("byte", raises=(binascii.Error, ValueError))
def _byte(value: Any) -> bool:
    return not isinstance(value, str) or base64.b64decode(value, validate=True) is not None


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
        raise ValueError(value)
    datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@functools.cache
def _validator(group: str, kind: str, version: str) -> Draft202012Validator:
    schema = to_json_schema(load(group, kind).schemas[version])
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_FORMATS)


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _numbers(value: Any) -> Any:
    """Integral floats as ints (Pulumi's mocks hand numbers over as floats; JSON has one number type)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _prepare(node: dict[str, Any] | None, value: Any) -> Any:
    """What the API server does before validating: drop nulls of non-nullable fields, apply defaults."""
    if node is None:
        return value
    if isinstance(value, dict):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties") if isinstance(node.get("additionalProperties"), dict) else None
        out = {}
        for key, item in value.items():
            sub = props.get(key, extra)
            if item is None and sub is not None and not sub.get("nullable"):
                continue
            out[key] = _prepare(sub, item)
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = _prepare(sub, copy.deepcopy(sub["default"]))
        return out
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_prepare(node["items"], item) for item in value]
    return value


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _cel(node: dict[str, Any] | None, value: Any, path: list) -> Iterator[str]:
    if node is None or value is None:
        return
    for rule in node.get("x-kubernetes-validations") or []:
        text = rule_key(rule["rule"])
        if text not in RULES:
            raise UnknownRule(f"{_path(path)}: no predicate for CEL rule {rule['rule']!r}")
        try:
            ok = RULES[text](value)
        except (KeyError, TypeError, AttributeError) as err:  # CEL: no such key / no matching overload
            yield f"{_path(path)}: rule {text!r} could not be evaluated ({type(err).__name__}: {err})"
            continue
        if not ok:
            yield f"{_path(path)}: {rule.get('message') or 'failed rule ' + repr(text)}"
    if isinstance(value, dict):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties") if isinstance(node.get("additionalProperties"), dict) else None
        for key, item in value.items():
            yield from _cel(props.get(key, extra), item, [*path, key])
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            yield from _cel(node["items"], item, [*path, i])


def _metadata(crd: Crd, metadata: Any) -> list[str]:
    if not isinstance(metadata, dict):
        return ["metadata: required object is missing"]
    errors = []
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        errors.append("metadata.name: required")
    elif len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        errors.append(f"metadata.name: {name!r} is not a DNS-1123 subdomain (lower case, digits, '-', '.'; at most 253)")
    namespace = metadata.get("namespace")
    if crd.namespaced:
        if not isinstance(namespace, str) or not namespace:
            errors.append(f"metadata.namespace: required for the namespaced kind {crd.kind}")
        elif len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
            errors.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    elif namespace is not None:
        errors.append(f"metadata.namespace: not allowed on the cluster-scoped kind {crd.kind}")
    for field in ("labels", "annotations"):
        values = metadata.get(field)
        if values is not None and (not isinstance(values, dict)
                                   or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())):
            errors.append(f"metadata.{field}: must map strings to strings")
    return errors


# What the CRDs' combinator rules (allOf/anyOf/not) mean, by schema location; jsonschema can only say
# "not valid under any of the given schemas". Wording after the CRD descriptions and library-go.
EXPLAINED = {
    ("Route", "properties/spec/allOf/0"): "passthrough termination does not support paths",
    ("Route", "properties/spec/allOf/1"): "wildcardPolicy Subdomain needs a host",
    ("Route", "properties/spec/properties/tls/allOf/0"):
        "passthrough termination does not support certificate, key, caCertificate or destinationCACertificate",
    ("Route", "properties/spec/properties/tls/allOf/1"): "edge termination does not support destinationCACertificate",
    ("Route", "properties/spec/properties/port/properties/targetPort/allOf/0"): "targetPort must not be 0",
    ("Route", "properties/spec/properties/port/properties/targetPort/allOf/1"): "targetPort must not be empty",
}
COMBINATORS = ("allOf", "anyOf", "oneOf", "not")


def _message(kind: str, error) -> str:
    schema_path = "/".join(map(str, error.absolute_schema_path))
    for (explained_kind, prefix), text in EXPLAINED.items():
        if kind == explained_kind and (schema_path == prefix or schema_path.startswith(prefix + "/")):
            return text
    if error.validator in COMBINATORS:
        return f"does not satisfy the schema's {error.validator} at {schema_path}"
    message = error.message
    return message if len(message) <= 300 else message[:300] + "..."


def validate(manifest: dict[str, Any]) -> list[str]:
    """Problems the API server would report for this custom resource of a kind in CRD_FILES (empty: valid)."""
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if not isinstance(api_version, str) or "/" not in api_version or not isinstance(kind, str):
        raise ValueError(f"not a custom resource manifest: apiVersion={api_version!r} kind={kind!r}")
    group, _, version = api_version.rpartition("/")
    crd = load(group, kind)
    if version not in crd.schemas:
        return [f"apiVersion: {api_version} is not served by the {kind} CRD (served: {', '.join(sorted(crd.schemas))})"]
    schema = crd.schemas[version]
    obj = _prepare(schema, _numbers(copy.deepcopy(manifest)))
    errors = _metadata(crd, obj.get("metadata"))
    for error in sorted(crd.validator(version).iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        errors.append(f"{_path(error.absolute_path)}: {_message(kind, error)}")
    errors.extend(_cel(schema, obj, []))
    return errors
