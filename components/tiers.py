"""Every tier's component name (the `app.kubernetes.io/component` label of its pods) and ports, in
one place: each tier's module takes its own from here, and the wiring (components/server.py, the
network policies) reads them here, so no tier module imports another.

Adding a tier: its names here, its settings (settings.models `Settings` and `Tier`), its module, its
wiring in server.py, and its peers in network_policies.py (README, "Extending it").
"""

from __future__ import annotations

APISERVER, APISERVER_PORT = "apiserver", 8008
FILESERVER, FILESERVER_PORT = "fileserver", 8081
WEBSERVER, WEBSERVER_PORT, WEBSERVER_TLS_PORT = "webserver", 8080, 8443
ASYNC_DELETE = "async-delete"
MONGODB, MONGODB_PORT = "mongodb", 27017
MONGODB_SETUP = f"{MONGODB}-setup"  # the setup Job's pods (replica set, feature compatibility version)
REDIS, REDIS_PORT = "redis", 6379
ELASTICSEARCH, ELASTICSEARCH_HTTP_PORT, ELASTICSEARCH_TRANSPORT_PORT = "elasticsearch", 9200, 9300
AGENT = "agent"  # the Kubernetes glue
# The metrics exporters of the data tiers (components/monitoring.py), each on its default port.
MONGODB_EXPORTER, MONGODB_EXPORTER_PORT = "mongodb-exporter", 9216
REDIS_EXPORTER, REDIS_EXPORTER_PORT = "redis-exporter", 9121
ELASTICSEARCH_EXPORTER, ELASTICSEARCH_EXPORTER_PORT = "elasticsearch-exporter", 9114
BACKUP = "backup"  # the backup CronJob's and the restore Job's pods
AGENT_TASK = "task"  # the task pods the glue creates (labels app.kubernetes.io/name=clearml-task, component=task)

# The tiers the router may reach.
ROUTER_TIERS = (WEBSERVER, APISERVER, FILESERVER)
