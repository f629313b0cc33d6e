#!/usr/bin/env bash
# Builds pulumi-resource-docker into OUT_DIR (build.sh; nothing to do when it is up to date) and
# runs cmd/smoke against it and the local Docker daemon (see cmd/smoke/main.go).
#
#   engine/docker-provider/smoke.sh OUT_DIR [-host DOCKER_HOST]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_DIR [smoke flags]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="$1"
shift
"$here/build.sh" "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
if ! command -v go >/dev/null 2>&1; then
  PATH="/usr/local/go/bin:$PATH"
fi
export GOFLAGS="-mod=mod -buildvcs=false"
# The build copy build.sh left (cmd/smoke is in its cache key, so it is this source's).
cd "${CLAWJAIL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clawjail}/build/docker-provider/src"
go run ./cmd/smoke -binary "$out_dir/pulumi-resource-docker" "$@"
