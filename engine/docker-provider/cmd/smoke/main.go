// Command smoke starts a built pulumi-resource-docker the way the Pulumi engine does (as a child
// process given the address of an engine gRPC server, printing its own port on stdout) and
// drives it over gRPC against the local Docker daemon: GetPluginInfo, GetSchema, CheckConfig,
// Configure, a Check of a container with the property names clawjail's stack sends, then Check,
// Create, Read and Delete of a docker:index/volume:Volume named cjprovsmoke-<random>. The volume
// is removed (docker volume rm) and the provider stopped even when a step fails.
//
//	go run ./cmd/smoke -binary OUT_DIR/pulumi-resource-docker [-host unix:///var/run/docker.sock]
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// engine is the smallest engine the provider needs: somewhere to send its log messages. Debug
// messages (the upstream provider's own log) are counted, the rest printed.
type engine struct {
	pulumirpc.UnimplementedEngineServer
	debug *atomic.Int64
}

func (e engine) Log(_ context.Context, req *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	if req.GetSeverity() == pulumirpc.LogSeverity_DEBUG {
		e.debug.Add(1)
	} else {
		fmt.Printf("  provider log [%s] %s\n", req.GetSeverity(), strings.TrimSpace(req.GetMessage()))
	}
	return &emptypb.Empty{}, nil
}

func main() {
	binary := flag.String("binary", "", "path to pulumi-resource-docker")
	host := flag.String("host", "unix:///var/run/docker.sock", "Docker host for the provider's config")
	flag.Parse()
	if *binary == "" {
		fmt.Fprintln(os.Stderr, "smoke: -binary is required")
		os.Exit(2)
	}
	if err := run(*binary, *host); err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("PASS")
}

func mustStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		panic(err)
	}
	return s
}

func asJSON(s *structpb.Struct) string {
	b, _ := json.Marshal(s.AsMap())
	return string(b)
}

func run(binary, host string) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	debugLogs := &atomic.Int64{}
	defer func() { fmt.Printf("(%d debug log messages from the provider not shown)\n", debugLogs.Load()) }()
	pulumirpc.RegisterEngineServer(srv, engine{debug: debugLogs})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	cmd := exec.CommandContext(ctx, binary, lis.Addr().String())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the provider's port: %w", err)
	}
	port := strings.TrimSpace(line)
	fmt.Printf("provider printed port %s\n", port)

	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	p := pulumirpc.NewResourceProviderClient(conn)

	info, err := p.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil {
		return fmt.Errorf("GetPluginInfo: %w", err)
	}
	fmt.Printf("GetPluginInfo: version %s\n", info.GetVersion())

	sch, err := p.GetSchema(ctx, &pulumirpc.GetSchemaRequest{})
	if err != nil {
		return fmt.Errorf("GetSchema: %w", err)
	}
	var spec struct {
		Name      string                     `json:"name"`
		Version   string                     `json:"version"`
		Resources map[string]json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal([]byte(sch.GetSchema()), &spec); err != nil {
		return fmt.Errorf("GetSchema: not JSON (%d bytes): %w", len(sch.GetSchema()), err)
	}
	tokens := make([]string, 0, len(spec.Resources))
	for t := range spec.Resources {
		tokens = append(tokens, t)
	}
	fmt.Printf("GetSchema: %d bytes, package %s %s, resources %v\n", len(sch.GetSchema()), spec.Name, spec.Version, tokens)

	// The provider's inputs as provider.js sends them: strings, non-strings JSON-encoded.
	provURN := "urn:pulumi:smoke::smoke::pulumi:providers:docker::docker"
	provNews := mustStruct(map[string]any{
		"host":         host,
		"registryAuth": `[{"address":"registry.invalid","authDisabled":true}]`,
		"version":      info.GetVersion(),
	})
	cc, err := p.CheckConfig(ctx, &pulumirpc.CheckRequest{Urn: provURN, Olds: mustStruct(nil), News: provNews})
	if err != nil {
		return fmt.Errorf("CheckConfig: %w", err)
	}
	if len(cc.GetFailures()) > 0 {
		return fmt.Errorf("CheckConfig failures: %v", cc.GetFailures())
	}
	fmt.Printf("CheckConfig: ok, inputs %s\n", asJSON(cc.GetInputs()))
	if _, err := p.Configure(ctx, &pulumirpc.ConfigureRequest{
		Args: cc.GetInputs(), AcceptSecrets: true, AcceptResources: true,
	}); err != nil {
		return fmt.Errorf("Configure: %w", err)
	}
	fmt.Println("Configure: ok")

	// A container as clawjail's infra/components/dockerArgs.ts describes one (Check only: the
	// names the SDK sends must come back under the same names, with no failures).
	ctrURN := "urn:pulumi:smoke::smoke::docker:index/container:Container::ctr"
	ctrNews := mustStruct(map[string]any{
		"name":             "cjprovsmoke-never-created",
		"image":            "debian:bookworm-slim",
		"command":          []any{"sleep", "1"},
		"capabilities":     map[string]any{"drops": []any{"ALL"}, "adds": []any{"CHOWN"}},
		"healthcheck":      map[string]any{"tests": []any{"CMD", "true"}, "interval": "30s", "retries": 3},
		"mounts":           []any{map[string]any{"type": "volume", "source": "v", "target": "/data", "readOnly": true}},
		"tmpfs":            map[string]any{"/tmp": "rw,size=64m"},
		"networksAdvanced": []any{map[string]any{"name": "cjprovsmoke-net"}},
		"labels":           []any{map[string]any{"label": "clawjail.smoke", "value": "1"}},
		"ulimits":          []any{map[string]any{"name": "nofile", "soft": 1024, "hard": 2048}},
		"securityOpts":     []any{"no-new-privileges"},
		"memory":           256,
		"start":            false,
		"mustRun":          false,
	})
	ck, err := p.Check(ctx, &pulumirpc.CheckRequest{Urn: ctrURN, Olds: mustStruct(nil), News: ctrNews, RandomSeed: []byte("smoke")})
	if err != nil {
		return fmt.Errorf("Check container: %w", err)
	}
	if len(ck.GetFailures()) > 0 {
		return fmt.Errorf("Check container failures: %v", ck.GetFailures())
	}
	got := ck.GetInputs().AsMap()
	for _, k := range []string{"command", "networksAdvanced", "capabilities", "healthcheck", "mounts", "tmpfs", "labels", "ulimits"} {
		if _, ok := got[k]; !ok {
			return fmt.Errorf("Check container dropped %q: %s", k, asJSON(ck.GetInputs()))
		}
	}
	fmt.Println("Check container: ok, SDK names kept")

	// Without a name, the container is named after the resource (Terraform requires one).
	delete(ctrNews.Fields, "name")
	ck, err = p.Check(ctx, &pulumirpc.CheckRequest{Urn: ctrURN, Olds: mustStruct(nil), News: ctrNews, RandomSeed: []byte("smoke")})
	if err != nil {
		return fmt.Errorf("Check unnamed container: %w", err)
	}
	auto, _ := ck.GetInputs().AsMap()["name"].(string)
	if len(ck.GetFailures()) > 0 || !strings.HasPrefix(auto, "ctr-") {
		return fmt.Errorf("Check unnamed container: name %q, failures %v", auto, ck.GetFailures())
	}
	fmt.Printf("Check unnamed container: ok, named %s\n", auto)

	// The volume: Check, Create, Read, Delete.
	rnd := make([]byte, 4)
	_, _ = rand.Read(rnd)
	name := "cjprovsmoke-" + hex.EncodeToString(rnd)
	defer func() {
		// Whatever happened above, no volume is left behind.
		if out, rmErr := exec.Command("docker", "volume", "rm", "-f", name).CombinedOutput(); rmErr != nil {
			fmt.Printf("cleanup: docker volume rm -f %s: %v %s\n", name, rmErr, out)
		}
	}()
	volURN := "urn:pulumi:smoke::smoke::docker:index/volume:Volume::vol"
	vck, err := p.Check(ctx, &pulumirpc.CheckRequest{
		Urn: volURN, Olds: mustStruct(nil), RandomSeed: []byte("smoke"),
		News: mustStruct(map[string]any{
			"name":   name,
			"labels": []any{map[string]any{"label": "clawjail.smoke", "value": "1"}},
		}),
	})
	if err != nil {
		return fmt.Errorf("Check volume: %w", err)
	}
	if len(vck.GetFailures()) > 0 {
		return fmt.Errorf("Check volume failures: %v", vck.GetFailures())
	}
	fmt.Printf("Check volume: ok, inputs %s\n", asJSON(vck.GetInputs()))

	created, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: volURN, Properties: vck.GetInputs()})
	if err != nil {
		return fmt.Errorf("Create volume: %w", err)
	}
	fmt.Printf("Create volume: id %s, outputs %s\n", created.GetId(), asJSON(created.GetProperties()))
	out, err := exec.Command("docker", "volume", "inspect", "--format", "{{.Name}} {{.Labels}}", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker volume inspect after Create: %v %s", err, out)
	}
	fmt.Printf("docker volume inspect: %s", out)

	read, err := p.Read(ctx, &pulumirpc.ReadRequest{
		Id: created.GetId(), Urn: volURN, Properties: created.GetProperties(), Inputs: vck.GetInputs(),
	})
	if err != nil {
		return fmt.Errorf("Read volume: %w", err)
	}
	if read.GetId() != created.GetId() {
		return fmt.Errorf("Read volume: id %q, want %q", read.GetId(), created.GetId())
	}
	fmt.Println("Read volume: ok")

	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{
		Id: created.GetId(), Urn: volURN, Properties: created.GetProperties(), OldInputs: vck.GetInputs(),
	}); err != nil {
		return fmt.Errorf("Delete volume: %w", err)
	}
	ls, err := exec.Command("docker", "volume", "ls", "-q").CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker volume ls: %v %s", err, ls)
	}
	for _, v := range strings.Fields(string(ls)) {
		if v == name {
			return fmt.Errorf("%s still listed by docker volume ls after Delete", name)
		}
	}
	fmt.Printf("Delete volume: ok, %s gone from docker volume ls\n", name)
	return nil
}
