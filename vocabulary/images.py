"""Image references: the grammar, and the pinning rule, in one place (settings `images.*`, the policy
pack's `pinned-images` rule, the mirror rewrite).

Grammar: distribution/reference (`reference.go`), simplified to lower-case repositories; digests are
OCI's (`algorithm:encoded`, image-spec `descriptor.md`). A reference is pinned by a digest, or by a tag
other than `latest` (the tag Docker and CRI-O pull when none is given).
"""

from __future__ import annotations

import re

# registry[:port]/path components, lower case.
REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# What settings accept: the digests registries serve.
SHA256_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
# What a manifest may carry (any registered algorithm).
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
UNPINNED_TAG = "latest"


def has_registry(repository: str) -> bool:
    """Whether the first component names a registry (a dot, a port, or `localhost`), as Docker decides."""
    first = repository.split("/", 1)[0]
    return "." in first or ":" in first or first == "localhost"


def is_registry(value: str) -> bool:
    """A registry with an optional path (`mirror.example.com:5000/ml`)."""
    return bool(REPOSITORY.match(value)) and has_registry(value)


def mirrored(repository: str, mirror: str) -> str:
    """`repository` moved to `mirror`: its registry replaced, its path kept (Docker Hub's implied
    `library/` included)."""
    parts = repository.split("/")
    if has_registry(repository):
        parts = parts[1:]
    elif len(parts) == 1:
        parts = ["library", *parts]
    return f"{mirror}/{'/'.join(parts)}"


def pinning_problem(image: str) -> str | None:
    """Why the reference `image` is not pinned, or None: a digest, or a tag other than `latest`."""
    if "@" in image:
        digest = image.split("@", 1)[1]
        return None if DIGEST.match(digest) else f"bad digest {digest!r}"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"no tag (pulls {UNPINNED_TAG})"
    if last.split(":", 1)[1] in ("", UNPINNED_TAG):
        return f"the tag {UNPINNED_TAG}"
    return None
