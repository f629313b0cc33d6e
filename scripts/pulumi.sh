#!/usr/bin/env bash
# `npm run pulumi -- ARGS`: the Pulumi CLI in clawjail's environment (scripts/lib/pulumi-env.sh:
# local file backend, passphrase secrets), for example `npm run pulumi -- preview --refresh`.
# The CLI is the source-built engine (scripts/pulumi-engine.sh, built first if missing, and no
# plugin downloads), or, with CLAWJAIL_PULUMI=official, the `pulumi` installed the usual way;
# the default is the engine that `npm run deploy` last used on this host.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/pulumi-env.sh
pulumi_env_setup
case "${CLAWJAIL_PULUMI:-$(cat "$clawjail_home/engine" 2>/dev/null || echo source)}" in
  official)
    command -v pulumi >/dev/null 2>&1 || export PATH="$HOME/.pulumi/bin:$PATH"
    command -v pulumi >/dev/null 2>&1 || { echo "clawjail: no pulumi installed (CLAWJAIL_PULUMI=official)" >&2; exit 1; }
    ;;
  source) pulumi_env_use_source_engine ;;
  *) echo "clawjail: CLAWJAIL_PULUMI must be official or source" >&2; exit 2 ;;
esac
exec pulumi "$@"
