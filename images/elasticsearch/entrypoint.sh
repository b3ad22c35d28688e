#!/bin/bash
# Entrypoint of the Elasticsearch stand-in image, with the behaviour of Elastic's image that the
# program relies on (elastic/elasticsearch distribution/docker, docker-entrypoint.sh):
#  * every environment variable named like a setting (lower case, with a dot: `cluster.name`,
#    `xpack.security.enabled`) is passed as `-E name=value`;
#  * ELASTIC_PASSWORD becomes `bootstrap.password` in the keystore (the `elastic` user's password),
#    read from stdin so it never appears in a process list;
#  * ELASTIC_PASSWORD_FILE names a file holding it instead (bin/elasticsearch-env-from-file), which
#    must have mode 400 or 600 (the image refuses any other, as Elastic's does).
# Runs as any UID: the config directory must be writable (the program seeds it into an emptyDir).
# Stand-in only: the integ-test-zip distribution lacks the ingest-geoip and ml modules, which refuse
# to start on their settings ("unknown setting"); those settings are skipped, with a line saying so.
set -euo pipefail
cd /usr/share/elasticsearch

if [[ $# -gt 0 && $1 != -* ]]; then
  exec "$@"
fi

settings=()
while IFS= read -r -d '' entry; do
  key=${entry%%=*}
  value=${entry#*=}
  if [[ $key =~ ^[a-z0-9_]+\.[a-z0-9_.]+$ && -n $value ]]; then
    case $key in
      ingest.geoip.*|xpack.ml.*)
        if [[ ! -d modules/ingest-geoip && $key == ingest.geoip.* || ! -d modules/x-pack-ml && $key == xpack.ml.* ]]; then
          echo "stand-in image: skipping $key (its module is not in the integ-test-zip distribution)" >&2
          continue
        fi ;;
    esac
    settings+=("-E$key=$value")
  fi
done < <(env -0)

if [[ -n ${ELASTIC_PASSWORD_FILE:-} ]]; then
  if [[ -n ${ELASTIC_PASSWORD:-} ]]; then
    echo "ERROR: Both ELASTIC_PASSWORD_FILE and ELASTIC_PASSWORD are set. These are mutually exclusive." >&2
    exit 1
  fi
  if [[ ! -e $ELASTIC_PASSWORD_FILE ]]; then
    echo "ERROR: File $ELASTIC_PASSWORD_FILE from ELASTIC_PASSWORD_FILE does not exist" >&2
    exit 1
  fi
  perms=$(stat -L -c '%a' "$ELASTIC_PASSWORD_FILE")
  if [[ $perms != 400 && $perms != 600 ]]; then
    echo "ERROR: File $ELASTIC_PASSWORD_FILE from ELASTIC_PASSWORD_FILE must have file permissions 400 or 600, but actually has: $perms" >&2
    exit 1
  fi
  ELASTIC_PASSWORD=$(cat "$ELASTIC_PASSWORD_FILE")
  unset ELASTIC_PASSWORD_FILE
fi

if [[ -n ${ELASTIC_PASSWORD:-} ]]; then
  [[ -f config/elasticsearch.keystore ]] || bin/elasticsearch-keystore create
  if ! bin/elasticsearch-keystore has-passwd --silent 2>/dev/null && ! bin/elasticsearch-keystore list | grep -qx bootstrap.password; then
    printf '%s' "$ELASTIC_PASSWORD" | bin/elasticsearch-keystore add -x bootstrap.password
  fi
fi
unset ELASTIC_PASSWORD

exec bin/elasticsearch "${settings[@]}" "$@"
