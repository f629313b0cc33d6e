// pulumi-resource-docker: the upstream Terraform Docker provider served to the Pulumi engine
// through pulumi-terraform-bridge. Built by build.sh, which sets version and embeds the schema.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"clawjail.invalid/engine/docker-provider/dockerinfo"
)

// version is what the plugin reports to the engine; build.sh sets it with -ldflags -X.
var version = "0.0.0-dev"

// pulumiSchema is the package schema that GetSchema returns and that the bridge type-checks
// inputs against. build.sh generates it (cmd/gen) into the build copy and embeds it through a
// generated file there; a build without it still serves every resource, only GetSchema answers
// empty and the type check is skipped.
var pulumiSchema []byte

func main() {
	tfbridge.Main(dockerinfo.Package, version, dockerinfo.Provider(version), pulumiSchema)
}
