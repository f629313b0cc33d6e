#!/usr/bin/env bash
# Brings this host to what the tests and a local deploy need. Idempotent: every step checks first.
#   docker engine (started in the background when there is no init system), iptables, iproute2,
#   e2fsprogs, mount and util-linux (the capped stores: mkfs.ext4, chattr, losetup, findmnt),
#   debootstrap (base stand-ins), ClamAV (warden tests), gcc (the cell's attack probe), chromium (the login page's browser test),
#   npm dependencies, and the compiled services.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'prereqs: %s\n' "$*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# CLAWJAIL_PREREQS=deploy installs only what a deploy needs; the default is everything for tests.
if [ "${CLAWJAIL_PREREQS:-test}" = deploy ]; then
  APT_PACKAGES=(docker.io iptables iproute2 openssl curl e2fsprogs mount util-linux)
elif [ "${CLAWJAIL_PREREQS:-test}" = deploy-offline ]; then
  APT_PACKAGES=(docker.io iptables iproute2 openssl curl debootstrap e2fsprogs mount util-linux)
else
  APT_PACKAGES=(docker.io iptables iproute2 openssl curl e2fsprogs mount util-linux debootstrap clamav-daemon clamdscan clamav-testfiles gcc libc6-dev runsc chromium)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! timeout 10 docker info >/dev/null 2>&1; then
  # Register gVisor for the cellRuntime=runsc option, only on a host with no daemon config of its
  # own. --network=host is a runsc flag (it uses the container's namespace's stack directly):
  # Debian's 2022 runsc cannot run its own netstack in this VM.
  if command -v runsc >/dev/null 2>&1 && [ ! -e /etc/docker/daemon.json ] && [ "${CLAWJAIL_PREREQS:-test}" = test ]; then
    log "registering the runsc (gVisor) runtime in /etc/docker/daemon.json"
    $SUDO mkdir -p /etc/docker
    printf '{\n  "runtimes": { "runsc": { "path": "%s", "runtimeArgs": ["--network=host"] } }\n}\n' \
      "$(command -v runsc)" | $SUDO tee /etc/docker/daemon.json >/dev/null
  fi
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    log "starting docker with systemd"
    $SUDO systemctl start docker
  else
    log "starting dockerd in the background (no init system)"
    $SUDO sh -c 'nohup dockerd >/var/log/clawjail-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 60); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 1; done
  timeout 10 docker info >/dev/null 2>&1 || { log "dockerd did not come up"; tail -20 /var/log/clawjail-dockerd.log >&2 || true; exit 1; }
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
