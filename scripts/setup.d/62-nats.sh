#!/usr/bin/env bash
# Cluster (issue 14): the cluster tests start their own 3-node nats-server cluster with JetStream (ports and temp
# folders of their own), so only the binary is needed: Debian's nats-server (2.9, JetStream, KV, clustering).
# The machine's own NATS service on 4222 is not used. Installs only what is missing.
set -euo pipefail
if command -v nats-server >/dev/null 2>&1; then echo "nats: $(nats-server --version)"; exit 0; fi
echo "installing: nats-server"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nats-server
nats-server --version
