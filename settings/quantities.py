"""Kubernetes quantities ("500m", "2Gi") and DNS names, validated the way the API server does."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

# k8s.io/apimachinery/pkg/api/resource/quantity.go: <signedNumber><suffix>
_QUANTITY = re.compile(r"^(?P<num>[0-9]+(\.[0-9]+)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|)$")
_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}


def _parts(value: str) -> re.Match[str]:
    match = _QUANTITY.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 50Gi)")
    return match


def parse_quantity(value: str) -> Decimal:
    """Value of a Kubernetes quantity in base units (cores or bytes). Raises ValueError if malformed."""
    match = _parts(value)
    return Decimal(match["num"]) * _SUFFIX[match["suffix"]]


def _positive_quantity(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return value


def _storage_quantity(value: str) -> str:
    _positive_quantity(value)
    if parse_quantity(value) < 2**20:
        raise ValueError(f"{value!r} is smaller than 1Mi; volume sizes are bytes, e.g. 10Gi")
    return value


def _no_bare_number(example: str):
    """YAML reads `size: 50` as the number 50: bytes, almost surely not what was meant."""
    def check(value: object) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"{value} is a number, which Kubernetes reads as bytes; "
                             f'write the quantity as a quoted string with its unit, e.g. "{example}"')
        return value
    return check


def _cpu_number(value: object) -> object:
    """`cpu: 2` or `cpu: 0.5` are whole or fractional cores, as in a Kubernetes manifest."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(Decimal(str(value)).normalize(), "f")
    return value


def _cpu(value: str) -> str:
    _positive_quantity(value)
    suffix = _parts(value)["suffix"]
    if suffix not in ("", "m"):
        cores = parse_quantity(value)
        raise ValueError(f"{value!r} is {cores:,.0f} cores; CPU is counted in cores or millicores: "
                         f"did you mean {value.strip()[:-len(suffix)] + 'm'!r} (millicores)?")
    return value


def _memory(value: str) -> str:
    _positive_quantity(value)
    suffix = _parts(value)["suffix"]
    if suffix == "m":
        raise ValueError(f"{value!r} is thousandths of a byte (m is milli); did you mean {value.strip()[:-1] + 'Mi'!r}?")
    if parse_quantity(value) < 2**20:
        raise ValueError(f"{value!r} is less than 1Mi; memory is counted in bytes: write it with a unit, e.g. 512Mi")
    return value


Quantity = Annotated[str, AfterValidator(_positive_quantity)]
Cpu = Annotated[str, BeforeValidator(_cpu_number), AfterValidator(_cpu)]
Memory = Annotated[str, BeforeValidator(_no_bare_number("512Mi")), AfterValidator(_memory)]
StorageSize = Annotated[str, BeforeValidator(_no_bare_number("50Gi")), AfterValidator(_storage_quantity)]

# k8s.io/apimachinery/pkg/util/validation: IsDNS1123Label / IsDNS1123Subdomain
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns1123_label(value: str) -> str:
    if len(value) > 63:
        raise ValueError(f"{value!r} is longer than 63 characters")
    if not _DNS1123_LABEL.match(value):
        raise ValueError(
            f"{value!r} must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character"
        )
    return value


def dns1123_subdomain(value: str) -> str:
    """A host name as OpenShift accepts it for a Route: lowercase DNS-1123 labels, 253 characters at most."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 253:
        raise ValueError(f"{value!r} is longer than 253 characters")
    if value.endswith("."):
        raise ValueError(f"{value!r} must not end with a dot")
    for label in value.split("."):
        try:
            dns1123_label(label)
        except ValueError as err:
            raise ValueError(f"host {value!r}: label {err}") from None
    return value


DnsLabel = Annotated[str, AfterValidator(dns1123_label)]
HostName = Annotated[str, AfterValidator(dns1123_subdomain)]
