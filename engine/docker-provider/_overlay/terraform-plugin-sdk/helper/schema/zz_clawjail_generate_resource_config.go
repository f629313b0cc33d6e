// Added by clawjail's engine/docker-provider/build.sh to a copy of Pulumi's fork of
// terraform-plugin-sdk/v2 (the fork the bridge requires; it is based on SDK v2.38.1).
//
// The upstream Docker provider needs terraform-plugin-go v0.31.0, whose tfprotov5.ProviderServer
// interface gained GenerateResourceConfig (the SDK grew it in v2.40.0). The fork predates it, so
// without this method its GRPCProviderServer no longer satisfies the interface and the SDK does
// not compile. Pulumi never calls this RPC (it serves Terraform's -generate-config-out), so the
// method only answers that it is not supported, the way the fork already answers the list and
// action RPCs.

package schema

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

func (s *GRPCProviderServer) GenerateResourceConfig(_ context.Context, req *tfprotov5.GenerateResourceConfigRequest) (*tfprotov5.GenerateResourceConfigResponse, error) {
	return &tfprotov5.GenerateResourceConfigResponse{
		Diagnostics: []*tfprotov5.Diagnostic{{
			Severity: tfprotov5.DiagnosticSeverityError,
			Summary:  "Resource configuration generation is not supported",
			Detail:   fmt.Sprintf("This build of the SDK cannot generate configuration for %q.", req.TypeName),
		}},
	}, nil
}
