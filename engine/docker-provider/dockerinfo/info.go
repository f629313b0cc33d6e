// Package dockerinfo says how the upstream Terraform Docker provider is presented to Pulumi: the
// package name, the tokens of the resources clawjail uses, and the property names where the
// bridge's automatic ones differ from those the @pulumi/docker 5.2.0 npm SDK sends.
//
// The SDK is the contract: it was generated from Pulumi's own docker provider, and its
// provider.js, *.js and types/input.d.ts spell out every token and property name the engine will
// hand us. The bridge derives names from the Terraform schema (snake_case to camelCase, lists and
// sets pluralised); every override below is a place where that rule gives a different name.
package dockerinfo

import (
	"sort"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	tfshim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	upstream "github.com/terraform-providers/terraform-provider-docker/shim"
)

// Package is the Pulumi package name; tokens are "docker:index/<camel>:<Pascal>".
const Package = "docker"

func tok(member string) string {
	return Package + ":index/" + string(member[0]|0x20) + member[1:] + ":" + member
}

// Resources maps each Terraform resource we expose to the token the npm SDK registers it under.
// Only these are served; the rest of the upstream provider is listed in IgnoreMappings, so a
// program using any other @pulumi/docker resource fails with "unknown resource type" instead of
// running on names nobody has checked.
var Resources = map[string]string{
	"docker_container": tok("Container"),
	"docker_network":   tok("Network"),
	"docker_volume":    tok("Volume"),
	"docker_image":     tok("RemoteImage"),
}

// Provider returns the bridge's description of the provider. version is what the plugin reports
// (see build.sh for why it is the npm SDK's version, not the upstream's).
func Provider(version string) tfbridge.ProviderInfo {
	p := shimv2.NewProvider(upstream.NewProvider(version))

	resources := map[string]*tfbridge.ResourceInfo{}
	for tf, token := range Resources {
		resources[tf] = &tfbridge.ResourceInfo{Tok: tokens.Type(token)}
	}
	applyOverrides(resources)

	var ignored []string
	p.ResourcesMap().Range(func(key string, _ tfshim.Resource) bool {
		if _, ok := resources[key]; !ok {
			ignored = append(ignored, key)
		}
		return true
	})
	p.DataSourcesMap().Range(func(key string, _ tfshim.Resource) bool {
		ignored = append(ignored, key)
		return true
	})

	sort.Strings(ignored)

	return tfbridge.ProviderInfo{
		P:                 p,
		Name:              Package,
		Version:           version,
		DisplayName:       "Docker (clawjail build)",
		Description:       "The upstream Terraform Docker provider, bridged for clawjail.",
		License:           "Apache-2.0",
		GitHubOrg:         "kreuzwerker",
		TFProviderLicense: ptr(tfbridge.MPL20LicenseType),
		Config:            configOverrides(),
		Resources:         resources,
		IgnoreMappings:    ignored,
	}
}

func ptr[T any](v T) *T { return &v }
