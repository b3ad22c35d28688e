"""Velero's names this project relies on (OpenShift's OADP operator runs Velero): its API and the pod
annotation that opts volumes into its file-system backup (velero docs, "File System Backup", opt-in
approach; github.com/vmware-tanzu/velero pkg/util/podvolume: `backup.velero.io/backup-volumes`)."""

from __future__ import annotations

API_GROUP = "velero.io"
API_VERSION = f"{API_GROUP}/v1"
# A comma-separated list of a pod's volumes that Velero's file-system backup copies.
VOLUMES_ANNOTATION = "backup.velero.io/backup-volumes"
# OADP's default namespace (the OADP operator's install namespace, where Velero runs).
OADP_NAMESPACE = "openshift-adp"
