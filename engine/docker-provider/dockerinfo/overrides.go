package dockerinfo

import "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

// Every override here was found by check-sdk-names.js (which build.sh runs against the npm SDK
// after generating the schema): a property the bridge would name, or require, differently from
// @pulumi/docker 5.2.0. The bridge pluralises the camelCase name of every Terraform list or set
// unless told otherwise; the SDK keeps these three singular.

// configOverrides: provider.js sends `registryAuth` (Terraform `registry_auth`, a set of blocks);
// the automatic name would be `registryAuths`.
func configOverrides() map[string]*tfbridge.SchemaInfo {
	return map[string]*tfbridge.SchemaInfo{
		"registry_auth": {Name: "registryAuth"},
	}
}

func applyOverrides(r map[string]*tfbridge.ResourceInfo) {
	r["docker_container"].Fields = map[string]*tfbridge.SchemaInfo{
		// A list of strings; the automatic name would be `commands`.
		"command": {Name: "command"},
		// A set of blocks; the automatic name would be `networksAdvanceds`.
		"networks_advanced": {Name: "networksAdvanced"},
		// Required in Terraform, optional in the SDK (container.js checks only `image`): without a
		// name the provider makes one from the resource's name, as Pulumi does elsewhere.
		"name": tfbridge.AutoName("name", 255, "-"),
	}
	r["docker_network"].Fields = map[string]*tfbridge.SchemaInfo{
		// Required in Terraform, optional in the SDK; named like the container above.
		"name": tfbridge.AutoName("name", 255, "-"),
	}
}
