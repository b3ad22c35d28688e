"""Changing the version of a running data tier: which image changes are safe, and the path for the others.

Preflight reads the image the StatefulSet runs and asks these rules about the change to the configured
one; a refusal stops `up` and `preview` before anything changes.

MongoDB: a major upgrade goes one release series at a time (4.4 -> 5.0 -> 6.0 -> 7.0 -> 8.0), and each
needs the feature compatibility version of the one before: mongod of series N starts only on data whose
FCV is N-1 or N ("Upgrade a Replica Set to 8.0", prerequisites; the same page for every series). So
a jump over a series is refused with the path to take, one `up` per series; after each, the MongoDB
setup Job raises the feature compatibility version (components/runtime/mongodb_setup.js). A downgrade
is refused: older binaries cannot start on data a newer FCV wrote, and the way back is a backup taken
under the old version.

Elasticsearch: a node reads indices written by its own major or the one before only, and a cluster
cannot go back a version (a downgraded node refuses the data its newer version wrote), so a downgrade
is refused; the settings already hold every stack to 8.x.
"""

from __future__ import annotations

import re

from vocabulary.clearml import ROOT_PASSWORD_GENERATION_ENV

# MongoDB's release series, in the order an upgrade must take them.
MONGODB_SERIES = ("4.4", "5.0", "6.0", "7.0", "8.0")
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def version(tag: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of an image tag such as `8.0.15` or `7.0.14-jammy`; None when the tag does not
    start with a version (then no rule can judge it)."""
    found = _VERSION.match(tag)
    if not found:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)


def tag_of(image: str) -> str | None:
    """The tag of an image reference (`registry/path:tag`, `...:tag@sha256:...`), None without one."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def setup_job_generation(job: dict) -> tuple[int, bool]:
    """(root-password generation, whether it succeeded) of a MongoDB setup Job object (`spec` and
    `status`, as the API server or a stack export's inputs and outputs give them). A Job from before
    rotation existed carries no generation: 0."""
    containers = (((job.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    env = {e.get("name"): e.get("value") for c in containers for e in c.get("env") or []}
    return int(env.get(ROOT_PASSWORD_GENERATION_ENV) or 0), bool((job.get("status") or {}).get("succeeded"))


def root_password_generation_problem(deployed: int, succeeded: bool, wanted: int) -> str | None:
    """The in-cluster MongoDB's root password goes one generation at a time: the program keeps only the
    generation before the configured one, which the setup Job logs in with to change the password inside
    the database. `deployed` is the generation of the setup Job that exists, `succeeded` whether it did."""
    if wanted == deployed:
        return None
    if wanted == deployed + 1:
        if succeeded:
            return None
        return (f"{wanted} rotates from generation {deployed}, whose setup Job has not succeeded, so the database "
                f"may have the one before: finish generation {deployed} first (`up` with it; the Job's log says why "
                "it failed)")
    return (f"{wanted}, but the database has generation {deployed}'s root password (its setup Job): only "
            f"{deployed + 1} can follow ({'one generation at a time' if wanted > deployed else 'never an older one'}; "
            "the program keeps just the generation before the configured one to log in with, so any other would "
            "lock the clients out)")


def mongodb_version_problem(current_tag: str, wanted_tag: str) -> str | None:
    current, wanted = version(current_tag), version(wanted_tag)
    if current is None or wanted is None or current[:2] == wanted[:2]:
        return None
    series_now, series_wanted = f"{current[0]}.{current[1]}", f"{wanted[0]}.{wanted[1]}"
    if wanted < current:
        return (f"{current_tag} -> {wanted_tag} is a downgrade, which MongoDB cannot do in place (the data carries "
                f"the newer feature compatibility version): restore a backup taken under {series_wanted} "
                "(make restore FROM=<set>) into a deployment of that version")
    if series_now not in MONGODB_SERIES or series_wanted not in MONGODB_SERIES:
        return None  # not a series this rule knows: the operator's call
    path = MONGODB_SERIES[MONGODB_SERIES.index(series_now):MONGODB_SERIES.index(series_wanted) + 1]
    if len(path) <= 2:
        return None
    steps = "; ".join(f"images.mongodb.tag {s}.x and `up` (its setup Job then sets the feature compatibility "
                      f"version {s})" for s in path[1:])
    return (f"{current_tag} -> {wanted_tag} skips {', '.join(path[1:-1])}: MongoDB upgrades one release series "
            f"at a time, each on the feature compatibility version of the one before. Go "
            f"{' -> '.join(path)} (make backup first): {steps}")


def elasticsearch_version_problem(current_tag: str, wanted_tag: str) -> str | None:
    current, wanted = version(current_tag), version(wanted_tag)
    if current is None or wanted is None or wanted >= current:
        return None
    return (f"{current_tag} -> {wanted_tag} is a downgrade, and Elasticsearch nodes refuse data a newer version "
            f"wrote: restore a backup into a deployment of {wanted_tag} instead (make restore FROM=<set>)")
