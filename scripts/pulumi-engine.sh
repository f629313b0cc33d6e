#!/usr/bin/env bash
# Builds the Pulumi engine from source, through the Go module proxy only, and prints its bin
# directory, to put first on PATH:
#   bin/pulumi                         the CLI, github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (engine/cli)
#   bin/pulumi-language-nodejs         clawjail's Node.js language host (engine/language-nodejs)
#   bin/pulumi-resource-pulumi-nodejs  the dynamic-provider launcher, from the @pulumi/pulumi package
#   providers/pulumi-resource-docker   the docker provider, a bridge of kreuzwerker's Terraform
#                                      provider (engine/docker-provider); not in bin/, where the
#                                      CLI would take it as an "ambient" plugin: it is installed
#                                      with `pulumi plugin install --file` (scripts/lib/pulumi-env.sh)
# For hosts that cannot download Pulumi's release binaries (see README, "The engine").
#
# Cached by the hash of everything that goes into it, under ${CLAWJAIL_CACHE_DIR:-~/.cache/clawjail}:
# a second run costs a few seconds. Nothing is downloaded at run time, only at build time, and
# only Go modules. Usage: scripts/pulumi-engine.sh [--quiet]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quiet=false
[ "${1:-}" = --quiet ] && quiet=true
log() { $quiet || printf 'pulumi-engine: %s\n' "$*" >&2; }
die() { printf 'pulumi-engine: %s\n' "$*" >&2; exit 1; }

cache="${CLAWJAIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clawjail}"

go_bin=$(command -v go || true)
[ -n "$go_bin" ] || { [ -x /usr/local/go/bin/go ] && go_bin=/usr/local/go/bin/go; }
[ -n "$go_bin" ] || die "no Go toolchain (go >= 1.25.11) on this machine: install one, or install the Pulumi CLI the usual way (README, 'The engine')"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly PATH="$(dirname "$go_bin"):$PATH"

# The CLI is the version of the @pulumi/pulumi package the program runs with.
sdk_version=$(node -p "require('$root/package.json').dependencies['@pulumi/pulumi']")
cli_version=$(sed -n 's#^\s*github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\)$#\1#p; s#^require github.com/pulumi/pulumi/pkg/v3 v\([0-9.]*\)$#\1#p' "$root/engine/cli/go.mod" | head -n1)
[ "$cli_version" = "$sdk_version" ] ||
  die "engine/cli/go.mod pins the CLI at ${cli_version:-nothing} but package.json has @pulumi/pulumi $sdk_version: keep them equal"
dynamic_launcher="$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
[ -f "$dynamic_launcher" ] || die "node_modules is not installed (run npm ci first): $dynamic_launcher is missing"

key=$(
  {
    "$go_bin" version
    echo "cli $cli_version"
    (cd "$root" && find engine -type f ! -name '*.md' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum "$dynamic_launcher" "$root/scripts/pulumi-engine.sh"
  } | sha256sum | cut -c1-16
)
out="$cache/engine/$cli_version-$key"
if [ -x "$out/bin/pulumi" ] && [ -x "$out/providers/pulumi-resource-docker" ]; then
  touch "$out" # in use: not pruned
  echo "$out/bin"
  exit 0
fi

log "building the Pulumi engine $cli_version into $out (first time: several minutes)"
mkdir -p "$cache/engine"
tmp=$(mktemp -d "$cache/engine/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/providers"
start=$SECONDS

log "CLI (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$cli_version)"
(cd "$root/engine/cli" && "$go_bin" build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$cli_version" \
  -o "$tmp/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)

log "Node.js language host (engine/language-nodejs)"
(cd "$root/engine/language-nodejs" && "$go_bin" build -trimpath \
  -ldflags "-s -w -X main.version=$cli_version" -o "$tmp/bin/pulumi-language-nodejs" .)

log "docker provider (engine/docker-provider)"
bash "$root/engine/docker-provider/build.sh" "$tmp/providers" >&2

install -m 0755 "$dynamic_launcher" "$tmp/bin/pulumi-resource-pulumi-nodejs"

"$tmp/bin/pulumi" version >/dev/null || die "the CLI that was built does not run"
rm -rf "$out"
mkdir -p "$out"
mv "$tmp/bin" "$tmp/providers" "$out/"
# Each build is about 300 MB: keep this one and those used in the last week (other checkouts).
find "$cache/engine" -mindepth 1 -maxdepth 1 -type d ! -name '.*' ! -path "$out" -mtime +7 -exec rm -rf {} + 2>/dev/null || true
log "built in $((SECONDS - start)) s: $out/bin"
echo "$out/bin"
