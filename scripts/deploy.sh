#!/usr/bin/env bash
# Deploys the jail on this host: `npm run deploy` (stack "dev") or `npm run deploy -- STACK`.
# No Pulumi account: state lives in a local file backend and secrets are encrypted with a
# passphrase kept in ~/.clawjail (mode 0600). Set PULUMI_BACKEND_URL or
# PULUMI_CONFIG_PASSPHRASE(_FILE) yourself to use others.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK="${1:-dev}"
log() { printf 'deploy: %s\n' "$*" >&2; }

CLAWJAIL_PREREQS=deploy bash scripts/prereqs.sh

if ! command -v pulumi >/dev/null 2>&1; then
  if [ -x "$HOME/.pulumi/bin/pulumi" ]; then
    export PATH="$HOME/.pulumi/bin:$PATH"
  else
    log "installing the Pulumi CLI (https://www.pulumi.com/docs/install/)"
    curl -fsSL https://get.pulumi.com | sh || { log "could not install the Pulumi CLI; install it by hand and run again"; exit 1; }
    export PATH="$HOME/.pulumi/bin:$PATH"
  fi
fi

state_dir="$HOME/.clawjail"
mkdir -p "$state_dir/state"
chmod 700 "$state_dir"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$state_dir/state}"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  if [ ! -s "$state_dir/passphrase" ]; then
    (umask 077; openssl rand -hex 32 >"$state_dir/passphrase")
    log "created the stack passphrase in $state_dir/passphrase (back it up: it decrypts the stack's secrets)"
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$state_dir/passphrase"
fi

pulumi stack select --create "$STACK" --secrets-provider passphrase
for key in openclawToken gatewayToken; do
  if ! pulumi config get "clawjail:$key" >/dev/null 2>&1; then
    log "generating clawjail:$key (a stack secret)"
    pulumi config set --secret "clawjail:$key" "$(openssl rand -hex 32)"
  fi
done
pulumi up --yes --stack "$STACK" --policy-pack policies
pulumi stack output --stack "$STACK"
