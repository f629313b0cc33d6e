// Command gen writes the Pulumi package schema of the provider described by dockerinfo, as the
// bridge's tfgen derives it from the Terraform schema (docs taken from the schema's own
// descriptions, no upstream docs repository needed).
//
//	go run ./cmd/gen -version 5.2.0 -out schema.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"

	"clawjail.invalid/engine/docker-provider/dockerinfo"
)

func main() {
	version := flag.String("version", "", "version written into the schema")
	out := flag.String("out", "schema.json", "where to write the schema")
	flag.Parse()
	if *version == "" {
		fmt.Fprintln(os.Stderr, "gen: -version is required")
		os.Exit(2)
	}

	sink := diag.DefaultSink(os.Stderr, os.Stderr, diag.FormatOptions{Color: colors.Never})
	res, err := tfgen.GenerateSchemaWithOptions(tfgen.GenerateSchemaOptions{
		ProviderInfo:    dockerinfo.Provider(*version),
		DiagnosticsSink: sink,
		XInMemoryDocs:   true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	b, err := json.MarshalIndent(res.PackageSpec, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
