#!/usr/bin/env bash
# Install the Debian packages the local cluster and the stand-in image builds need, if missing.
#
# Usage: scripts/host-packages.sh          (idempotent; a no-op when everything is present)
#
# containerd, runc and the CNI plugins run the node's containers (scripts/cluster.sh); iptables,
# iproute2 and conntrack its network; mmdebstrap and unzip build the stand-in images
# (scripts/images.sh); util-linux's setpriv runs unit-test steps as a random UID. Needs root and
# Debian's package mirror (bookworm). Takes about 30 s when nothing is installed yet.
set -euo pipefail
PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 conntrack mmdebstrap unzip
  util-linux curl openssl ca-certificates)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "host packages: all present" >&2
  exit 0
fi
[[ $(id -u) == 0 ]] || { echo "error: installing ${missing[*]} needs root" >&2; exit 1; }
echo "host packages: installing ${missing[*]} (about 30 s)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
