"""Changing the size of a running data tier: which changes are safe, and the safe sequence for the others.

Preflight reads the StatefulSet a stack already runs and asks these rules about the change from its
replicas to the configured ones; a refusal stops `up` and `preview` before anything changes.

MongoDB (a replica set from 3 members; 1 is a standalone mongod): members are added or removed by the
setup Job, one safe reconfig at a time (components/runtime/mongodb_setup.js), and each
reconfig needs a majority of the set as it was to agree. So a scale-down keeps a majority of the old
set; a standalone and a replica set are different deployments, moved between by backup and restore.

Elasticsearch: ClearML creates its indices with `number_of_replicas: 0` (clearml-server
apiserver/elastic/index_templates), so a node's shards exist on that node only: removing a node before
its shards moved away loses them. A scale-down is refused until the operator drained the nodes that go
and said so on the StatefulSet (DRAINED_ANNOTATION); a scale-up adds nodes that join through
discovery (`cluster.initial_master_nodes` only acts at the first bootstrap).
"""

from __future__ import annotations

DRAINED_ANNOTATION = "clearml.openshift.io/drained-for-replicas"


def majority(members: int) -> int:
    return members // 2 + 1


def _steps(current: int, wanted: int) -> list[int]:
    """The sizes to go through from `current` down to `wanted`, each keeping a majority of the one before."""
    steps, size = [current], current
    while size > wanted:
        size = max(wanted, majority(size))
        steps.append(size)
    return steps


def mongodb_problem(current: int, wanted: int) -> str | None:
    if current == wanted:
        return None
    if current == 1 or wanted == 1:
        return (f"{current} -> {wanted} would turn a {'standalone' if current == 1 else 'replica set'} "
                f"into a {'replica set' if current == 1 else 'standalone'}, which scaling cannot do: take a backup "
                "(make backup), deploy the new size in a new namespace or after `make destroy` and deleting the "
                "MongoDB claims, then `make restore FROM=<set>`")
    if wanted < majority(current):
        path = " -> ".join(str(s) for s in _steps(current, wanted))
        return (f"{current} -> {wanted} removes {current - wanted} of {current} members at once, "
                f"and the {wanted} left are no majority of the set to agree on its new membership: scale down in "
                f"steps, one `up` each: {path}")
    return None


def elasticsearch_problem(current: int, wanted: int, drained_for: str | None, statefulset: str) -> str | None:
    if current == wanted or (wanted > current and current > 1):
        return None
    if current == 1 or wanted == 1:
        return (f"{current} -> {wanted} switches between single-node discovery and a cluster, "
                "which scaling cannot do: take a backup (make backup), deploy the new size after `make destroy` "
                "and deleting the Elasticsearch claims, then `make restore FROM=<set>`")
    if drained_for == str(wanted):
        return None
    going = ",".join(f"{statefulset}-{i}" for i in range(wanted, current))
    return (f"{current} -> {wanted} removes {going}, and ClearML's indices have no replicas: "
            f"their shards would be lost. First move the shards away: PUT _cluster/settings "
            f'{{"persistent": {{"cluster.routing.allocation.exclude._name": "{going}"}}}}, wait until '
            f"GET _cat/allocation?v shows no shards on them"
            # Removing half or more of the master-eligible nodes at once also needs them out of the voting set.
            + (f", and POST _cluster/voting_config_exclusions?node_names={going}" if 2 * (current - wanted) >= current
               else "")
            + f"; then `oc annotate statefulset {statefulset} {DRAINED_ANNOTATION}={wanted}` and run `up` again; "
            "afterwards clear the exclusion (PUT _cluster/settings with the setting null)")
