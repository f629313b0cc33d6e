# Sourced by scripts/deploy.sh and scripts/pulumi.sh: the offline environment the Pulumi CLI runs in.
#   - state in a local file backend, no Pulumi account: $CLAWJAIL_HOME/state
#   - secrets encrypted with a passphrase kept in $CLAWJAIL_HOME/passphrase (mode 0600)
#   - no update check; with the source-built engine, no plugin downloads either: we install each
# Each of PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE(_FILE) and PULUMI_HOME set by the caller wins.

clawjail_home="${CLAWJAIL_HOME:-$HOME/.clawjail}"

pulumi_env_setup() {
  mkdir -p "$clawjail_home/state"
  chmod 700 "$clawjail_home"
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$clawjail_home/state}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    if [ ! -s "$clawjail_home/passphrase" ]; then
      (umask 077; openssl rand -hex 32 >"$clawjail_home/passphrase")
      printf 'clawjail: created the stack passphrase in %s (back it up: it decrypts the stack secrets)\n' \
        "$clawjail_home/passphrase" >&2
    fi
    export PULUMI_CONFIG_PASSPHRASE_FILE="$clawjail_home/passphrase"
  fi
  export PULUMI_SKIP_UPDATE_CHECK=true
}

# Puts the source-built engine (scripts/pulumi-engine.sh) first on PATH and installs its docker
# provider as the plugin version @pulumi/docker asks for, in a PULUMI_HOME of clawjail's own, so
# a Pulumi installed the usual way on this host (~/.pulumi) is left as it is.
pulumi_env_use_source_engine() {
  local root bin version installed
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bin=$(bash "$root/scripts/pulumi-engine.sh" ${PULUMI_ENGINE_QUIET:+--quiet})
  export PATH="$bin:$PATH"
  export PULUMI_HOME="${PULUMI_HOME:-$clawjail_home/pulumi}"
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  version=$(node -p "require('$root/node_modules/@pulumi/docker/package.json').pulumi.version")
  installed="$PULUMI_HOME/plugins/resource-docker-v$version/pulumi-resource-docker"
  if ! cmp -s "$bin/../providers/pulumi-resource-docker" "$installed"; then
    rm -rf "$PULUMI_HOME/plugins/resource-docker-v$version" "$PULUMI_HOME/plugins/resource-docker-v$version.lock"
    pulumi plugin install resource docker "$version" --file "$bin/../providers/pulumi-resource-docker" >&2
  fi
}
