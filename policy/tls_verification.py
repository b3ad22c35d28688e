"""Text that switches TLS certificate verification off: the one definition.

Used by the policy pack (`policies.check_tls_verification`, on env values, command lines, probes
and ConfigMap data) and by tests/test_edge_tls.py, which scans the code, the stack files and every
rendered manifest with the same list.

Every pattern is spelled in pieces, so that no file of this repository (this one included) matches
it by merely defining it. `SET` matches the assignment forms these settings take: `k=v`, `k: v`,
`k = "v"`, and the rendered env pair `"name": "k", "value": "v"`.
"""

from __future__ import annotations

import re

SET = r"""["']?\s*(?:[:=]|,\s*["']value["']\s*:)\s*["']?"""

TLS_VERIFICATION_OFF: list[re.Pattern[str]] = [
    # The first nine are the patterns tests/test_edge_tls.py started with.
    re.compile("verify_certs" + r"\W*(:|=)\W*(false|False|0)"),
    re.compile("VERIFY_CERTS" + r"\"?\s*[:=,]\s*\"?(false|0)", re.IGNORECASE),
    # Any mention, except setting it to 1 (the default: verify).
    re.compile("PYTHONHTTPS" + "VERIFY" + r"(?!" + SET + r"1\b)"),
    re.compile("_create_" + "unverified_context"),
    re.compile("CERT_" + "NONE"),
    re.compile(r"curl[^\n]*\s(-k|--" + "insecure)\\b"),
    re.compile("insecure-skip-" + "tls-verify" + r"\W*(:|=)\W*true"),
    re.compile("verification_mode" + r"\W*(:|=)\W*\"?none"),
    re.compile("ssl_show" + "_warn"),
    # kubectl/oc/helm flag without a value means true.
    re.compile("--insecure-skip-" + r"tls-verify\b(?!\s*=\s*false)"),
    # Node.js, git, the ClearML SDK/agent (api.verify_certificate, CLEARML_API_HOST_VERIFY_CERT), generic *_SSL_VERIFY.
    re.compile("NODE_TLS_REJECT_" + "UNAUTHORIZED" + SET + r"0\b"),
    re.compile("GIT_SSL_" + "NO_VERIFY" + SET + r"(?:1|true|yes|on)\b", re.IGNORECASE),
    re.compile("ssl_?" + r"verify(?:\s+|" + SET + r")(?:false|no|off|0)\b", re.IGNORECASE),
    re.compile("verify_cert" + r"(?:ificate)?" + SET + r"(?:false|no|off|0)\b", re.IGNORECASE),
    # Go's tls.Config / kubeconfig-style YAML, MongoDB/other driver URI options.
    re.compile("insecure" + "SkipVerify" + r"\W*[:=]\W*true", re.IGNORECASE),
    re.compile(r"(?:tls|ssl)(?:Allow" + r"Invalid(?:Certificates|Hostnames)|Insecure)" + SET + r"true\b", re.IGNORECASE),
    # wget, skopeo/podman/buildah, pip.
    re.compile("--no-check-" + "certificate"),
    re.compile(r"(?<![\w-])--(?:src-|dest-)?" + r"tls-verify\s*=\s*false"),
    re.compile("--trusted-" + r"host\b"),
    re.compile("PIP_TRUSTED_" + "HOST"),
    # Python: requests with verification turned off, ssl contexts without host name checks, silenced warnings.
    re.compile(r"\bverify\s*=\s*" + r"False\b"),
    re.compile("check_" + r"hostname\s*=\s*False"),
    re.compile("InsecureRequest" + "Warning"),
    # nginx talking TLS to an upstream without checking it.
    re.compile(r"(?:proxy|grpc|uwsgi)_ssl_" + r"verify\s+off\b"),
]


def tls_verification_off(text: str) -> list[str]:
    """The pieces of `text` that switch verification off (empty: nothing does)."""
    found = []
    for pattern in TLS_VERIFICATION_OFF:
        match = pattern.search(text)
        if match:
            found.append(match.group(0).strip())
    return found
