#!/usr/bin/env bash
# Build the stand-in container images the local cluster runs, and import them into its containerd.
#
# Usage:
#   scripts/images.sh build [NAME...]          build missing images (all when no NAME); prints the archives
#   scripts/images.sh import SOCKET [NAME...]  build if needed, then import into containerd at SOCKET
#   scripts/images.sh names                    the image references, one per line (NAME=REF)
#
# No image registry is reachable from this project's build machines, so the images the program
# deploys are rebuilt here from their upstream recipes and packages, and named as stand-ins
# (localhost/standin/...), never with an upstream image's name. On a cluster that can pull
# images, none of this is used: the stacks name the upstream images (README, "Images").
#   clearml-server  clearml-server's docker/build recipe (Dockerfile, entrypoint.sh,
#                   final_image_preparation.sh) on Debian bookworm: same paths, modes (the 744
#                   entrypoint), default user (root) and working directory as the published image;
#                   Python dependencies from PyPI pinned in images/clearml-server/requirements.lock.
#                   The web app bundle (clearml-web, built with Node from GitHub) is a stand-in page.
#   redis           Debian's redis-server, at the official image's paths (/usr/local/bin, /data).
#   elasticsearch   Elasticsearch's integ-test-zip distribution from Maven Central on Debian's JDK 17,
#                   laid out like Elastic's image (/usr/share/elasticsearch, group-0 writable).
#   elasticsearch-next  the same at ELASTICSEARCH_NEXT_VERSION: what an upgrade moves to (local/upgrade.yaml).
#   mongodb         mongo-java-server (Maven Central, images/mongodb) on Debian's JRE 17: the
#                   MongoDB stand-in, since no registry reachable here ships mongod.
#   clearml-agent   clearml-agent from PyPI (images/clearml-agent/requirements.lock) with Debian's
#                   Python 3.11 and pip: the Kubernetes agent's glue pod and its task pods.
#   kubectl         the kubectl of scripts/toolchain.sh (KUBERNETES_VERSION) on Debian, with `cp`:
#                   what the glue's init container copies kubectl from.
#   pause           the kubelet's sandbox image: tools/pause, a static Go program.
#   redis-exporter, elasticsearch-exporter
#                   the monitoring exporters (oliver006/redis_exporter, prometheus-community/
#                   elasticsearch_exporter) built from their Go modules, at their images' paths and users.
#
# Environment: CLEARML_OPENSHIFT_CACHE (archives in $CACHE/images), CLEARML_SERVER_SOURCE (URL or
# path of a `git archive` tarball of clearml-server at CLEARML_SERVER_COMMIT; default: GitHub).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REPO_DIR=$(cd "$SCRIPTS_DIR/.." && pwd)
RECIPES=$REPO_DIR/images
IMAGES_DIR=$CACHE_DIR/images
ALL_IMAGES=(pause clearml-server redis elasticsearch elasticsearch-next mongodb clearml-agent kubectl redis-exporter
  elasticsearch-exporter)
CLEARML_SERVER_SOURCE=${CLEARML_SERVER_SOURCE:-https://github.com/clearml/clearml-server/archive/$CLEARML_SERVER_COMMIT.tar.gz}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

image_ref() {
  case $1 in
    pause) echo "localhost/standin/pause:1" ;;
    clearml-server) echo "localhost/standin/clearml-server:$CLEARML_SERVER_VERSION" ;;
    redis) echo "localhost/standin/redis:$REDIS_STANDIN_VERSION" ;;
    elasticsearch) echo "localhost/standin/elasticsearch:$ELASTICSEARCH_VERSION" ;;
    elasticsearch-next) echo "localhost/standin/elasticsearch:$ELASTICSEARCH_NEXT_VERSION" ;;
    mongodb) echo "localhost/standin/mongo-java-server:$MONGO_JAVA_SERVER_VERSION" ;;
    clearml-agent) echo "localhost/standin/clearml-agent:$CLEARML_AGENT_VERSION" ;;
    kubectl) echo "localhost/standin/kubectl:$KUBERNETES_VERSION" ;;
    redis-exporter) echo "localhost/standin/redis-exporter:$REDIS_EXPORTER_VERSION" ;;
    elasticsearch-exporter) echo "localhost/standin/elasticsearch-exporter:$ELASTICSEARCH_EXPORTER_VERSION" ;;
    *) die "unknown image $1 (one of: ${ALL_IMAGES[*]})" ;;
  esac
}

# recipe_hash NAME: what the archive is built from (the build function and its helpers, the recipe
# files, the pins it uses, the packer), so a change to any of them rebuilds that image only.
recipe_hash() {
  {
    declare -f "build_${1//-/_}" debian_rootfs oci
    image_ref "$1"
    echo "$CLEARML_SERVER_COMMIT $ELASTICSEARCH_ZIP_URL $ELASTICSEARCH_ZIP_SHA1 $DEBIAN_MIRROR"
    [[ $1 == elasticsearch* ]] && declare -f elasticsearch_image
    [[ $1 == elasticsearch-next ]] && echo "$ELASTICSEARCH_NEXT_ZIP_URL $ELASTICSEARCH_NEXT_ZIP_SHA1"
    cat "$SCRIPTS_DIR/lib/oci_image.py"
    [[ -d $RECIPES/${1%-next} ]] && find "$RECIPES/${1%-next}" -type f | sort | xargs cat
    [[ $1 == *-exporter ]] && declare -f go_module_binary
    [[ $1 == pause ]] && cat "$REPO_DIR/tools/pause/"*.go
  } | sha256sum | cut -c1-12
}

archive() { echo "$IMAGES_DIR/$1-$(recipe_hash "$1").oci.tar"; }

# debian_rootfs DIR PACKAGES...: a minimal Debian bookworm root filesystem.
debian_rootfs() {
  local dir=$1 pkgs
  shift
  pkgs=$(IFS=,; echo "$*")
  mmdebstrap --quiet --variant=minbase --include="$pkgs" \
    --customize-hook='chroot "$1" apt-get clean' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$dir" "$DEBIAN_MIRROR" >&2
}

oci() { # oci ROOTFS NAME ARGS...: pack ROOTFS as the archive of image NAME
  local rootfs=$1 name=$2
  shift 2
  python3 "$SCRIPTS_DIR/lib/oci_image.py" "$rootfs" "$(archive "$name")" --name "$(image_ref "$name")" "$@" >/dev/null
}

build_pause() {
  local work=$1
  mkdir -p "$work/rootfs"
  (cd "$REPO_DIR/tools/pause" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$work/rootfs/pause" .)
  oci "$work/rootfs" pause --entrypoint '["/pause"]' --user 65535
}

build_clearml_server() {
  local work=$1 src root site tarball
  tarball=$(source_tarball "$CLEARML_SERVER_SOURCE" "$work" CLEARML_SERVER_SOURCE)
  src=$work/src
  mkdir -p "$src"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  [[ -f $src/docker/build/Dockerfile && -f $src/apiserver/requirements.txt ]] ||
    die "$tarball is not a clearml-server source tree"
  root=$work/rootfs
  # final_image_preparation.sh: nginx, gettext, curl (its compilers and vim are only build/debug aids).
  debian_rootfs "$root" python3 nginx gettext-base curl ca-certificates
  # Dockerfile: COPY --chmod=744 entrypoint.sh and update_from_env.py; COPY fileserver, apiserver.
  install -d "$root/opt/clearml/utilities"
  install -m 0744 "$src/docker/build/internal_files/entrypoint.sh" "$root/opt/clearml/entrypoint.sh"
  install -m 0744 "$src/docker/build/internal_files/update_from_env.py" "$root/opt/clearml/utilities/"
  cp -r "$src/fileserver" "$src/apiserver" "$root/opt/clearml/"
  # final_image_preparation.sh: pip install -r apiserver/requirements.txt (pinned here), the log and
  # config dirs, nginx logs to stdout/stderr, the nginx templates.
  site=$root/usr/local/lib/python3.11/dist-packages
  python3 -m pip install --quiet --no-deps --no-compile --target "$site" -r "$RECIPES/clearml-server/requirements.lock" >&2
  if [[ -d $site/bin ]]; then   # console scripts: point them at the image's interpreter
    install -d "$root/usr/local/bin"
    sed -i '1s|^#!.*python.*$|#!/usr/bin/python3|' "$site/bin/"*
    mv "$site/bin/"* "$root/usr/local/bin/"
    rmdir "$site/bin"
  fi
  mkdir -p "$root/opt/clearml/log" "$root/opt/clearml/config"
  ln -sf /dev/stdout "$root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$root/var/log/nginx/error.log"
  install -m 0644 "$src/docker/build/internal_files/clearml.conf.template" \
    "$src/docker/build/internal_files/clearml_subpath.conf.template" "$root/etc/nginx/"
  # COPY --from=webapp_builder: the clearml-web bundle. Stand-in page (see README, "Stand-ins").
  rm -rf "$root/usr/share/nginx/html"
  install -d "$root/usr/share/nginx/html" "$root/usr/share/nginx/widgets"
  install -m 0644 "$RECIPES/clearml-server/webapp/"* "$root/usr/share/nginx/html/"
  install -m 0644 "$RECIPES/clearml-server/webapp/index.html" "$root/usr/share/nginx/widgets/index.html"
  oci "$root" clearml-server --entrypoint '["/opt/clearml/entrypoint.sh"]' --workdir /opt/clearml/ \
    --env "CLEARML_SERVER_VERSION=$CLEARML_SERVER_VERSION" --env "CLEARML_SERVER_BUILD=standin"
}

build_redis() {
  local root=$1/rootfs
  debian_rootfs "$root" redis-server
  # The official image: binaries in /usr/local/bin, data in /data (group 0 writable for any UID).
  ln -s /usr/bin/redis-server "$root/usr/local/bin/redis-server"
  ln -s /usr/bin/redis-cli "$root/usr/local/bin/redis-cli"
  install -d -m 0775 "$root/data"
  oci "$root" redis --cmd '["redis-server"]' --workdir /data
}

# elasticsearch_image WORK NAME VERSION ZIP_URL ZIP_SHA1: the stand-in Elasticsearch image NAME.
elasticsearch_image() {
  local work=$1 name=$2 version=$3 url=$4 sha1=$5 root=$1/rootfs zip home
  zip=$work/es.zip
  curl -fsSL --retry 3 -o "$zip" "$url"
  echo "$sha1  $zip" | sha1sum -c --quiet - || die "elasticsearch $version zip: sha1 mismatch"
  debian_rootfs "$root" openjdk-17-jre-headless curl ca-certificates unzip
  home=$root/usr/share/elasticsearch
  (cd "$work" && unzip -q "$zip" && mv "elasticsearch-$version" "$home")
  # Elastic's image: ES_JAVA_HOME, group 0 owning and able to write config, data and logs; the
  # entrypoint turns dotted environment variables into settings and ELASTIC_PASSWORD into the keystore.
  install -d "$home/data" "$home/logs" "$home/plugins"
  chgrp -R 0 "$home"
  chmod -R g=u "$home/config" "$home/data" "$home/logs"
  install -m 0755 "$RECIPES/elasticsearch/entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
  oci "$root" "$name" --entrypoint '["/usr/local/bin/docker-entrypoint.sh"]' \
    --workdir /usr/share/elasticsearch --user 1000:0 \
    --env "ES_JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64" --env "ELASTIC_CONTAINER=true"
}

build_elasticsearch() {
  elasticsearch_image "$1" elasticsearch "$ELASTICSEARCH_VERSION" "$ELASTICSEARCH_ZIP_URL" "$ELASTICSEARCH_ZIP_SHA1"
}

build_elasticsearch_next() {
  elasticsearch_image "$1" elasticsearch-next "$ELASTICSEARCH_NEXT_VERSION" "$ELASTICSEARCH_NEXT_ZIP_URL" \
    "$ELASTICSEARCH_NEXT_ZIP_SHA1"
}

build_mongodb() {
  local work=$1 root=$1/rootfs app
  app=$root/opt/mongo-standin
  cp -r "$RECIPES/mongodb" "$work/src"
  (cd "$work/src" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime >&2)
  debian_rootfs "$root" openjdk-17-jre-headless
  install -d "$app/lib" "$app/classes"
  install -m 0644 "$work/src/target/dependency/"*.jar "$app/lib/"
  find "$work/src/src" -name '*.java' -print0 | xargs -0 javac -cp "$app/lib/*" -d "$app/classes"
  install -d -m 0775 "$root/data/db"
  oci "$root" mongodb --entrypoint '["java", "-XX:MaxRAMPercentage=50", "-cp", "/opt/mongo-standin/classes:/opt/mongo-standin/lib/*", "MongoStandin"]' \
    --workdir /data/db
}

build_clearml_agent() {
  local root=$1/rootfs site
  # python3-pip: the task pod's start script looks for an interpreter whose `-m pip` works.
  debian_rootfs "$root" python3 python3-pip python3-venv ca-certificates
  site=$root/usr/local/lib/python3.11/dist-packages
  python3 -m pip install --quiet --no-deps --no-compile --target "$site" -r "$RECIPES/clearml-agent/requirements.lock" >&2
  if [[ -d $site/bin ]]; then   # console scripts (clearml-agent): point them at the image's interpreter
    sed -i '1s|^#!.*python.*$|#!/usr/bin/python3|' "$site/bin/"*
    mv "$site/bin/"* "$root/usr/local/bin/"
    rmdir "$site/bin"
  fi
  oci "$root" clearml-agent --workdir /
}

build_kubectl() {
  local root=$1/rootfs bin
  bin=${CLEARML_OPENSHIFT_BIN:-$("$SCRIPTS_DIR/toolchain.sh" --print-bin-dir)}
  [[ -x $bin/kubectl ]] || die "kubectl not found in $bin: run scripts/toolchain.sh"
  debian_rootfs "$root" coreutils
  install -m 0755 "$bin/kubectl" "$root/bin/kubectl"
  oci "$root" kubectl --entrypoint '["/bin/kubectl"]' --workdir /
}

# go_module_binary WORK MODULE VERSION OUT [LDFLAGS]: the main package at the root of a Go module from the
# module proxy, built static into OUT (a copy of the module: the module cache is read-only).
go_module_binary() {
  local work=$1 module=$2 version=$3 out=$4 ldflags=${5:-} dir
  dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" -o "$out" .)
}

build_redis_exporter() { # its image: /redis_exporter, user 59000:59000 (the module's Dockerfile)
  local root=$1/rootfs
  mkdir -p "$root"
  go_module_binary "$1" github.com/oliver006/redis_exporter "$REDIS_EXPORTER_VERSION" "$root/redis_exporter" \
    "-X main.BuildVersion=$REDIS_EXPORTER_VERSION"
  oci "$root" redis-exporter --entrypoint '["/redis_exporter"]' --user 59000:59000
}

build_elasticsearch_exporter() { # its image: /bin/elasticsearch_exporter, user nobody (the module's Dockerfile)
  local root=$1/rootfs
  mkdir -p "$root/bin"
  go_module_binary "$1" github.com/prometheus-community/elasticsearch_exporter "$ELASTICSEARCH_EXPORTER_VERSION" \
    "$root/bin/elasticsearch_exporter"
  oci "$root" elasticsearch-exporter --entrypoint '["/bin/elasticsearch_exporter"]' --user 65534:65534
}

build_image() {
  local name=$1 out work start
  out=$(archive "$name")
  if [[ -f $out ]]; then
    log "image $name: cached ($out)"
    return
  fi
  mkdir -p "$IMAGES_DIR"
  work=$(mktemp -d "$IMAGES_DIR/.work-$name-XXXX")
  start=$(date +%s)
  log "image $name: building $(image_ref "$name") (log: $work.log)"
  # In the background and then waited for: inside an `if` condition bash would ignore `set -e` in
  # the build, and a failing step would not stop it.
  ("build_${name//-/_}" "$work") >"$work.log" 2>&1 &
  if ! wait $!; then
    rm -rf "$work"
    tail -n 30 "$work.log" >&2
    die "image $name: build failed (log: $work.log)"
  fi
  rm -rf "$work" "$work.log"
  # Archives of earlier recipes of this image are stale now.
  find "$IMAGES_DIR" -maxdepth 1 -name "$name-*.oci.tar" ! -path "$out" -delete
  log "image $name: built in $(($(date +%s) - start))s, $(du -h "$out" | cut -f1)"
}

cmd_import() {
  local socket=$1 name
  shift
  for name in "$@"; do
    build_image "$name"
    ctr --address "$socket" -n k8s.io images import --no-unpack=false "$(archive "$name")" >/dev/null
    log "image $name: imported as $(image_ref "$name")"
  done
}

main() {
  (($# >= 1)) || { script_help "${BASH_SOURCE[0]}" >&2; exit 2; }
  local cmd=$1 names n
  shift
  case $cmd in
    build)
      names=("$@"); ((${#names[@]})) || names=("${ALL_IMAGES[@]}")
      for n in "${names[@]}"; do build_image "$n"; archive "$n"; done ;;
    import)
      (($# >= 1)) || die "usage: $0 import SOCKET [NAME...]"
      local socket=$1; shift
      names=("$@"); ((${#names[@]})) || names=("${ALL_IMAGES[@]}")
      cmd_import "$socket" "${names[@]}" ;;
    names) for n in "${ALL_IMAGES[@]}"; do echo "$n=$(image_ref "$n")"; done ;;
    *) die "unknown command $cmd" ;;
  esac
}

main "$@"
