#!/usr/bin/env bash
# Builds pulumi-resource-docker, our bridge of the upstream Terraform Docker provider, into
# OUT_DIR. Every module comes through the Go module proxy (`go env GOPROXY`); nothing is written
# inside the repository: the work happens in ${CLAWJAIL_CACHE_DIR:-~/.cache/clawjail}/build/.
#
#   engine/docker-provider/build.sh OUT_DIR
#
# Steps: copy the upstream provider's module and add our shim package (internal/ cannot be
# imported from another module); copy the SDK fork the bridge requires and add one method (see
# _overlay/terraform-plugin-sdk/); copy this directory beside them; go mod tidy; generate the
# package schema (cmd/gen) and check it against the npm SDK's names (check-sdk-names.js); embed
# it; build. A second run with the same inputs (upstream version, bridge version, plugin version,
# Go version, a hash of every file here) finds OUT_DIR/.pulumi-resource-docker.key and does
# nothing.
#
# Environment: DOCKER_SDK_DIR (default: the repo's node_modules/@pulumi/docker) for the name
# check, which is skipped with a warning when node or the SDK is absent; CHECK_SDK=0 skips it.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
out_dir="$(cd "$1" && pwd)"
binary="$out_dir/pulumi-resource-docker"
stamp="$out_dir/.pulumi-resource-docker.key"

# The version the plugin reports (GetPluginInfo, -version) and writes into its schema. It is the
# npm SDK's, not the upstream's: @pulumi/docker 5.2.0 registers every resource with version
# 5.2.0 (package.json "pulumi.version"), so the engine asks for plugin docker v5.2.0, looks for
# it as resource-docker-v5.2.0 and records that version on the provider in the state. A binary
# reporting anything else would be a different plugin to the engine, which would then try to
# download the real 5.2.0 (and fail: no network here).
PLUGIN_VERSION=5.2.0

# The upstream provider, as the proxy serves it (a pseudo-version of kreuzwerker's repo).
UPSTREAM_MODULE=github.com/kreuzwerker/terraform-provider-docker
UPSTREAM_VERSION=v0.0.0-20260916201441-96d331c98ff4

BRIDGE_MODULE=github.com/pulumi/pulumi-terraform-bridge/v3
TFSDK_MODULE=github.com/hashicorp/terraform-plugin-sdk/v2

if ! command -v go >/dev/null 2>&1; then
  PATH="/usr/local/go/bin:$PATH"
fi
export GOFLAGS="-mod=mod -buildvcs=false"

cache_root="${CLAWJAIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clawjail}"
work="$cache_root/build/docker-provider"
mkdir -p "$work"

# One build at a time in the work directory.
exec 9>"$work.lock"
flock 9

bridge_version="$(awk -v m="$BRIDGE_MODULE" '$1 == m { print $2; exit }' "$here/go.mod")"
if [ -z "$bridge_version" ]; then
  echo "build.sh: no $BRIDGE_MODULE requirement in $here/go.mod" >&2
  exit 1
fi

key="$(
  {
    echo "upstream $UPSTREAM_MODULE $UPSTREAM_VERSION"
    echo "bridge $bridge_version"
    echo "plugin $PLUGIN_VERSION"
    echo "go $(go env GOVERSION)"
    (cd "$here" && find . -type f ! -name '*~' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
)"

if [ -x "$binary" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ]; then
  echo "build.sh: $binary is up to date ($key)"
  exit 0
fi

started=$SECONDS
log() { echo "build.sh [$((SECONDS - started))s]: $*" >&2; }

# Directory of module path@version in the module cache, downloading it through the proxy.
module_dir() {
  (cd "$work" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}
module_gomod() {
  (cd "$work" && go mod download -json "$1" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
}

# Copy a module out of the (read-only) module cache into a writable directory.
copy_module() {
  rm -rf "$2"
  cp -R "$1" "$2"
  chmod -R u+w "$2"
}

log "upstream $UPSTREAM_MODULE@$UPSTREAM_VERSION"
upstream_dir="$(module_dir "$UPSTREAM_MODULE@$UPSTREAM_VERSION")"
[ -n "$upstream_dir" ] || { echo "build.sh: could not download $UPSTREAM_MODULE@$UPSTREAM_VERSION" >&2; exit 1; }
copy_module "$upstream_dir" "$work/upstream"
cp -R "$here/_overlay/upstream/." "$work/upstream/"
(cd "$work/upstream" && python3 "$here/patch_upstream.py") >&2

# The SDK fork: whatever the bridge's own go.mod replaces the SDK with.
bridge_gomod="$(module_gomod "$BRIDGE_MODULE@$bridge_version")"
read -r fork_module fork_version < <(
  awk -v m="$TFSDK_MODULE" '$1 == "replace" && $2 == m && $3 == "=>" { print $4, $5; exit }' "$bridge_gomod"
)
if [ -z "${fork_version:-}" ]; then
  echo "build.sh: $BRIDGE_MODULE@$bridge_version does not replace $TFSDK_MODULE; revisit _overlay/terraform-plugin-sdk" >&2
  exit 1
fi
log "SDK fork $fork_module@$fork_version"
copy_module "$(module_dir "$fork_module@$fork_version")" "$work/terraform-plugin-sdk"
cp -R "$here/_overlay/terraform-plugin-sdk/." "$work/terraform-plugin-sdk/"

# Our module, beside them (go.mod's replace paths are relative to this copy).
rm -rf "$work/src"
mkdir -p "$work/src"
cp -R "$here/." "$work/src/"
rm -rf "$work/src/_overlay"
cd "$work/src"

log "go mod tidy"
go mod tidy
if ! cmp -s go.mod "$here/go.mod" || ! cmp -s go.sum "$here/go.sum"; then
  echo "build.sh: warning: go mod tidy changed go.mod/go.sum; $here has stale copies (the build uses the tidied ones)" >&2
fi

log "generating the schema"
mkdir -p "$work/bin"
go build -trimpath -o "$work/bin/gen" ./cmd/gen
"$work/bin/gen" -version "$PLUGIN_VERSION" -out schema.json

sdk_dir="${DOCKER_SDK_DIR:-$here/../../node_modules/@pulumi/docker}"
if [ "${CHECK_SDK:-1}" = 0 ]; then
  log "CHECK_SDK=0: not comparing the schema with the npm SDK"
elif command -v node >/dev/null 2>&1 && [ -f "$sdk_dir/package.json" ]; then
  log "comparing the schema with $(node -p "require('$sdk_dir/package.json').version") of the npm SDK"
  node check-sdk-names.js schema.json "$sdk_dir"
else
  echo "build.sh: warning: node or $sdk_dir missing; the schema was not compared with the npm SDK" >&2
fi

cat > zz_schema_embed.go <<'EOF'
// Generated by build.sh in the build copy; never in the repository.

package main

import _ "embed"

//go:embed schema.json
var embeddedSchema []byte

func init() { pulumiSchema = embeddedSchema }
EOF

log "building pulumi-resource-docker $PLUGIN_VERSION"
go build -trimpath -ldflags "-s -w -X main.version=$PLUGIN_VERSION" -o "$binary.tmp" .
mv -f "$binary.tmp" "$binary"
echo "$key" > "$stamp"
log "wrote $binary"
