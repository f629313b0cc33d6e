// Command pulumi-language-nodejs is clawjail's Node.js language host for the Pulumi engine.
//
// Why our own: Pulumi's language host lives in a Go module of its own
// (sdk/nodejs/cmd/pulumi-language-nodejs/v3) that the module proxy these machines reach does not
// serve at any version, and a CLI cannot run a Node.js program without one. This host does only
// what a stack like ours needs from one: run the program (`@pulumi/pulumi/cmd/run`), run a policy
// pack (`@pulumi/pulumi/cmd/run-policy-pack`, behind the SDK's own PolicyProxy so the pack gets the
// stack's config), and tell the engine which resource plugins the program's node_modules ask for.
// It never installs anything: dependencies come from the project's own `npm ci`.
//
// The command-line contract with the Node.js side (flags of cmd/run, PULUMI_CONFIG with
// "<ns>:config:<name>" keys, exit code 32 for "already reported") is the one @pulumi/pulumi 3.x
// expects; engine/language-nodejs/README.md lists it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set at build time (-ldflags -X main.version=...).
var version = "0.0.0-dev"

func main() {
	var tracing string
	flag.StringVar(&tracing, "tracing", "", "Zipkin-compatible tracing endpoint (passed on to the program)")
	runtime := flag.String("runtime", "nodejs", "only nodejs is supported")
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: pulumi-language-nodejs [-tracing URL] [ENGINE_ADDRESS]\n\n"+
				"clawjail's Node.js language host; the Pulumi CLI starts it, people do not.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *runtime != "nodejs" {
		cmdutil.Exit(fmt.Errorf("unsupported runtime %q: this host runs nodejs only", *runtime))
	}
	logging.InitLogging(false, 0, false)

	engineAddress := ""
	if flag.NArg() > 0 {
		engineAddress = flag.Arg(0)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancel := make(chan bool)
	go func() { <-ctx.Done(); close(cancel) }()

	if engineAddress != "" {
		// Exit when the engine goes away, so a killed CLI leaves no orphaned host behind.
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start the engine health check: %w", err))
		}
	}

	host := newHost(engineAddress, tracing)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host: %w", err))
	}
	// The engine reads the port from our first line of output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host stopped serving: %w", err))
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string

	// cancelled by the Cancel RPC; every program and plugin we start is bound to it.
	cancelCtx  context.Context
	cancelFunc context.CancelFunc
}

func newHost(engineAddress, tracing string) *host {
	ctx, cancel := context.WithCancel(context.Background())
	return &host{engineAddress: engineAddress, tracing: tracing, cancelCtx: ctx, cancelFunc: cancel}
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.mu.Lock()
		h.engineAddress = req.GetEngineAddress()
		h.mu.Unlock()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelFunc()
	return &emptypb.Empty{}, nil
}

func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	pkgs, err := requiredPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	pkgs, err := requiredPackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(pkgs))
	for _, p := range pkgs {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: p.Name, Kind: p.Kind, Version: p.Version})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// InstallDependencies installs nothing: the engine calls it for `pulumi install` and for policy
// packs without node_modules, and a jail's dependencies must come from the lockfile through
// `npm ci`, run by the project's own scripts, never from whatever the engine would resolve.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck // older engines send only this field
	}
	if _, err := locateModule(dir, "@pulumi/pulumi"); err != nil {
		return fmt.Errorf("the dependencies of %s are not installed; run `npm ci` in the project root: %w", dir, err)
	}
	return server.Send(&pulumirpc.InstallDependenciesResponse{
		Stdout: []byte("clawjail language host: dependencies come from `npm ci`; nothing to install\n"),
	})
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not on the PATH: %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
		Metadata:   map[string]string{"languageHost": "clawjail " + version},
	}, nil
}

func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	deps, err := programDependencies(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		return &pulumirpc.RunResponse{Error: "the engine sent no program info (a Pulumi CLI older than 3.100 is not supported)"}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "node is not on the PATH: " + err.Error()}, nil
	}
	runPath, err := locateModule(info.GetProgramDirectory(), "@pulumi/pulumi/cmd/run")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env, err := runEnv(req, opts)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	args := append(append([]string{}, opts.nodeArgs...), runArgs(req, runPath, h.engine(), h.tracing)...)

	cmdCtx, cmdCancel := context.WithCancel(h.cancelCtx)
	defer cmdCancel()
	context.AfterFunc(ctx, cmdCancel)
	cmd := exec.CommandContext(cmdCtx, node, args...)
	cmd.Dir = req.GetPwd()
	cmd.Env = append(os.Environ(), env...)
	// Node may switch its stdio to non-blocking mode; wrapping the writers keeps that from
	// reaching our own descriptors (os/exec then copies through a pipe).
	cmd.Stdout = struct{ *os.File }{os.Stdout}
	cmd.Stderr = struct{ *os.File }{os.Stderr}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second

	return runResponse(cmd.Run()), nil
}

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	return runPlugin(h.cancelCtx, req, server)
}

// runResponse turns the program's exit into what the engine expects.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() == exitAlreadyReported {
			// The program already printed an actionable message; the engine prints nothing more.
			return &pulumirpc.RunResponse{Bail: true}
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}
	}
	return &pulumirpc.RunResponse{Error: "could not run the Node.js program: " + err.Error()}
}
