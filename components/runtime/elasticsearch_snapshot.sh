#!/bin/sh
# Velero's pre-backup hook in the first in-cluster Elasticsearch node (components/velero.py): one
# snapshot of every index but the system ones into the `fs` repository on the snapshot volume
# (`path.repo`), which Velero then copies with the pod's volumes, and the oldest snapshots beyond KEEP
# deleted. A data directory copied while Elasticsearch writes is not a backup; a snapshot is. Over
# verified TLS as the `elastic` user (the name the certificate carries, resolved to this pod; the
# issuing CA); the password goes to curl on stdin, never on a command line.
#
#   sh -c "<this file>" snapshot HOST PORT CA_FILE PASSWORD_FILE REPOSITORY LOCATION KEEP
set -eu
host=$1 port=$2 ca=$3 password_file=$4 repository=$5 location=$6 keep=$7

es() {
  method=$1 path=$2
  shift 2
  printf 'user = "elastic:%s"\n' "$(cat "$password_file")" |
    curl --config - -fsS --max-time 3600 --cacert "$ca" --resolve "$host:$port:127.0.0.1" \
      -X "$method" -H 'Content-Type: application/json' "https://$host:$port$path" "$@"
}

es PUT "/_snapshot/$repository" -d "{\"type\": \"fs\", \"settings\": {\"location\": \"$location\"}}" >/dev/null
snapshot=velero-$(date -u +%Y%m%dt%H%M%Sz)
es PUT "/_snapshot/$repository/$snapshot?wait_for_completion=true" \
  -d '{"indices": "*,-.*", "include_global_state": false}' >/dev/null
echo "snapshot $snapshot taken in $repository"
es GET "/_cat/snapshots/$repository?h=id&s=start_epoch" | head -n "-$keep" | while read -r old; do
  es DELETE "/_snapshot/$repository/$old" >/dev/null
  echo "snapshot $old deleted (more than $keep kept)"
done
