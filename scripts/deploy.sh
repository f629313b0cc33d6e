#!/usr/bin/env bash
# Deploys the jail on this host: `npm run deploy` (stack "dev") or `npm run deploy -- [--offline] [STACK]`.
# No Pulumi account: state lives in a local file backend and secrets are encrypted with a
# passphrase kept in ~/.clawjail (mode 0600); see scripts/lib/pulumi-env.sh.
#
# The Pulumi CLI: CLAWJAIL_PULUMI=auto (default) uses a `pulumi` already installed, else Pulumi's
# official installer, else (no internet) builds the engine from source through the Go module
# proxy (scripts/pulumi-engine.sh); =official or =source forces one of them.
#
# --offline, for a host that reaches only package registries (no Docker Hub, no Pulumi downloads,
# no ClamAV mirror): the source-built engine, local stand-ins for the base images, no egress for
# the cell (cellEgress none), the host's extra CAs for the image builds, no systemd boot restore
# where there is no systemd, and, if the signature volume is empty, a test signature so that clamd
# starts (replace it with real signatures: README, "Signatures").
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'deploy: %s\n' "$*" >&2; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
offline=false
STACK=""
for arg in "$@"; do
  case "$arg" in
    --offline) offline=true ;;
    -h | --help) usage; exit 0 ;;
    -*) log "unknown option $arg (see --help)"; exit 2 ;;
    *) [ -z "$STACK" ] || { log "one stack at a time (got $STACK and $arg)"; exit 2; }; STACK=$arg ;;
  esac
done
STACK="${STACK:-dev}"

if $offline; then
  CLAWJAIL_PREREQS=deploy-offline bash scripts/prereqs.sh
  CLAWJAIL_PULUMI="${CLAWJAIL_PULUMI:-source}"
  bash infra/images/standins/build.sh >&2
else
  CLAWJAIL_PREREQS=deploy bash scripts/prereqs.sh
fi
. scripts/lib/pulumi-env.sh
pulumi_env_setup

official_pulumi() {
  command -v pulumi >/dev/null 2>&1 && return 0
  if [ -x "$HOME/.pulumi/bin/pulumi" ]; then export PATH="$HOME/.pulumi/bin:$PATH"; return 0; fi
  log "installing the Pulumi CLI with Pulumi's installer (https://www.pulumi.com/docs/install/)"
  curl -fsSL --max-time 60 https://get.pulumi.com -o /tmp/clawjail-get-pulumi.sh 2>/dev/null &&
    sh /tmp/clawjail-get-pulumi.sh >&2 || return 1
  export PATH="$HOME/.pulumi/bin:$PATH"
}

engine="${CLAWJAIL_PULUMI:-auto}"
case "$engine" in
  official) official_pulumi || { log "could not install the Pulumi CLI; install it by hand, or run with CLAWJAIL_PULUMI=source"; exit 1; } ;;
  source) pulumi_env_use_source_engine ;;
  auto)
    if official_pulumi; then
      engine=official
    else
      log "Pulumi's installer is out of reach: building the engine from source (scripts/pulumi-engine.sh)"
      engine=source
      pulumi_env_use_source_engine
    fi
    ;;
  *) log "CLAWJAIL_PULUMI must be auto, official or source, not '$engine'"; exit 2 ;;
esac
# `npm run pulumi` and `clawjail ... --stack` use the same engine from now on.
echo "$engine" >"$clawjail_home/engine"

pulumi stack select --create "$STACK" --secrets-provider passphrase
for key in openclawToken gatewayToken; do
  if ! pulumi config get --stack "$STACK" "clawjail:$key" >/dev/null 2>&1; then
    log "generating clawjail:$key (a stack secret)"
    pulumi config set --stack "$STACK" --secret "clawjail:$key" "$(openssl rand -hex 32)"
  fi
done
if $offline; then
  . scripts/lib/offline-stack.sh
  offline_stack_config "$STACK"
  offline_stack_signatures "$STACK"
fi
pulumi up --yes --stack "$STACK" --policy-pack policies
pulumi stack output --stack "$STACK"
