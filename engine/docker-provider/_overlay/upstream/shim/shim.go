// Package shim is added by clawjail's engine/docker-provider/build.sh to a copy of the upstream
// Terraform Docker provider's module. The provider's code lives in internal/provider, which Go
// lets only packages of the same module import; this one-function package, placed inside that
// module, is the door our bridge module goes through.
//
// Only the SDKv2 provider is exposed. The upstream binary also muxes in a plugin-framework
// provider (provider.NewFrameworkProvider: actions, docker_compose, a containers data source);
// nothing clawjail uses lives there.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream SDKv2 provider, reporting version as its own.
func NewProvider(version string) *schema.Provider {
	return provider.New(version)()
}
