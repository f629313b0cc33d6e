//go:build tools

// The Pulumi CLI, built from the module proxy at the version of @pulumi/pulumi in package.json.
// This module only pins it (go.mod, go.sum); scripts/pulumi-engine.sh builds it.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
