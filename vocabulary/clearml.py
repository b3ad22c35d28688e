"""ClearML's names this project relies on, each with where clearml-server defines it, and the paths
the program gives them inside the server pods (settings name these paths in their help and checks;
components mount there).

clearml-server 2.3: `apiserver/config/default/hosts.conf` and `fileserver/config/default/hosts.conf`
(the Redis aliases), `apiserver/redis_manager.py` and `fileserver/redis_manager.py` (each alias's
`hosts.redis.<alias>` keys go to `redis.StrictRedis(**...)`), `apiserver/es_factory.py` (each
cluster's `hosts.elastic.<cluster>.args` go to `elasticsearch.Elasticsearch(**...)`),
`apiserver/database/__init__.py` (`CLEARML_MONGODB_SERVICE_CONNECTION_STRING`, used as is).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

# The Elasticsearch clusters of `hosts.elastic` (apiserver/config/default/hosts.conf).
ELASTIC_CLUSTERS = ("events", "workers", "datasets", "logs")
# The Redis aliases of `hosts.redis`, per process.
APISERVER_REDIS_ALIASES = ("apiserver", "workers")
FILESERVER_REDIS_ALIASES = ("fileserver",)

# The name of __main__.py's ClearmlServer: every object's name starts with it (clearml-apiserver, ...).
SERVER_NAME = "clearml"
# What follows the server's name in the names of each in-cluster data tier's component and objects
# (its StatefulSet, Service, Secret: clearml-mongodb, clearml-redis, clearml-elastic). components/
# data_tiers.py names the components with it; preflight finds the running StatefulSets by it.
DATA_TIER_SUFFIXES = {"mongodb": "mongodb", "redis": "redis", "elasticsearch": "elastic"}


def data_tier_name(server: str, tier: str) -> str:
    """The name of the in-cluster `tier` (mongodb, redis, elasticsearch) of the server named `server`."""
    return f"{server}-{DATA_TIER_SUFFIXES[tier]}"


# The StatefulSets of the in-cluster data tiers of __main__.py's server.
STATEFULSETS = {tier: data_tier_name(SERVER_NAME, tier) for tier in DATA_TIER_SUFFIXES}
# The in-cluster MongoDB's setup Job (components/mongodb.py), and the variable in which it carries the
# root password's generation (preflight and scripts/rotate.py read it to tell which one the database has).
MONGODB_SETUP_JOB = f"{STATEFULSETS['mongodb']}-setup"
ROOT_PASSWORD_GENERATION_ENV = "ROOT_PASSWORD_GENERATION"

# The workloads whose data a backup set holds (the file server's volume, MongoDB, Elasticsearch) or that
# migrates that data when it starts (the API server): tier -> (API resource, name, container). When
# backups are on and one of them is about to run another image, the program takes a backup set first
# and rolls them only after it (components/upgrade_backup.py); preflight reads the images they run.
UPGRADE_GUARDED = {
    "apiserver": ("deployments", f"{SERVER_NAME}-apiserver", "apiserver"),
    "fileserver": ("deployments", f"{SERVER_NAME}-fileserver", "fileserver"),
    "mongodb": ("statefulsets", STATEFULSETS["mongodb"], "mongodb"),
    "elasticsearch": ("statefulsets", STATEFULSETS["elasticsearch"], "elasticsearch"),
}


# The Elasticsearch snapshot repository the backups write to (an `fs` repository on the snapshot volume).
SNAPSHOT_REPOSITORY = "clearml-backups"

# On the backup taken before an upgrade (a Job, or a Velero Backup): the images it precedes.
BACKUP_BEFORE_ANNOTATION = "clearml.openshift.io/backup-before"


def upgrade_backup_job(images: Mapping[str, str]) -> str:
    """The name of the Job that backs up before the guarded workloads move to `images` (tier -> image
    reference): one per set of versions, so a new version set is a new Job and the same set keeps its Job."""
    digest = hashlib.sha256(json.dumps(sorted(images.items())).encode()).hexdigest()[:10]
    return f"{SERVER_NAME}-backup-before-{digest}"


# The pod-template annotation holding a digest of the generated credentials a pod reads (never the
# credentials): rotating one (scripts/rotate.py) changes it, so exactly the pods that read it roll.
CREDENTIALS_ANNOTATION = "clearml.openshift.io/credentials-digest"

# Where the CA certificates of external services are mounted (only that key of the Secret).
ELASTIC_CA_FILE = "/etc/clearml/elastic-ca/ca.crt"
MONGODB_CA_FILE = "/etc/clearml/mongodb-ca/ca.crt"
REDIS_CA_FILE = "/etc/clearml/redis-ca/ca.crt"

# MongoDB connection-string options (pymongo `common.URI_OPTIONS_VALIDATOR_MAP`, matched in lower
# case) that switch certificate or host name verification off: never accepted.
MONGODB_INSECURE_OPTIONS = ("tlsinsecure", "tlsallowinvalidcertificates", "tlsallowinvalidhostnames")
