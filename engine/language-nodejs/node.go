package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/google/shlex"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitAlreadyReported is @pulumi/pulumi's exit code for "the user already saw an actionable
// message": the engine must then print nothing more.
const exitAlreadyReported = 32

// nodeOptions are the `runtime.options` of Pulumi.yaml (or PulumiPolicy.yaml) that we honour.
type nodeOptions struct {
	typescript bool
	tsconfig   string
	nodeArgs   []string
}

func parseOptions(options map[string]any) (nodeOptions, error) {
	opts := nodeOptions{typescript: true}
	for key, value := range options {
		switch key {
		case "typescript":
			b, ok := value.(bool)
			if !ok {
				return opts, errors.New("runtime option typescript must be a boolean")
			}
			opts.typescript = b
		case "tsconfig":
			s, ok := value.(string)
			if !ok {
				return opts, errors.New("runtime option tsconfig must be a string")
			}
			opts.tsconfig = s
		case "nodeargs":
			s, ok := value.(string)
			if !ok {
				return opts, errors.New("runtime option nodeargs must be a string")
			}
			args, err := shlex.Split(s)
			if err != nil {
				return opts, fmt.Errorf("runtime option nodeargs: %w", err)
			}
			opts.nodeArgs = args
		case "packagemanager":
			// Accepted for compatibility; this host never installs packages.
		default:
			return opts, fmt.Errorf("runtime option %q is not supported by clawjail's language host "+
				"(supported: typescript, tsconfig, nodeargs)", key)
		}
	}
	return opts, nil
}

func (o nodeOptions) env() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// locateModule resolves a module the way the program itself would, from its directory.
func locateModule(dir, module string) (string, error) {
	script := fmt.Sprintf("try { console.log(require.resolve(%q)); } catch (e) { console.error(e.message); process.exit(1); }", module)
	cmd := exec.Command("node", "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("cannot find %s from %s (run `npm ci` in the project): %s",
				module, dir, strings.TrimSpace(string(exit.Stderr)))
		}
		return "", fmt.Errorf("cannot run node to find %s: %w", module, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// runArgs is cmd/run's command line, in the order @pulumi/pulumi's own host passes it.
func runArgs(req *pulumirpc.RunRequest, runPath, engineAddress, tracing string) []string {
	args := []string{runPath}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engineAddress)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetInfo().GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", tracing)
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// runEnv passes the stack's config the way @pulumi/pulumi reads it: JSON with "<ns>:config:<name>"
// keys (it understands both spellings; this one works with every 3.x SDK) and the list of secret keys.
func runEnv(req *pulumirpc.RunRequest, opts nodeOptions) ([]string, error) {
	cfg := make(map[string]string, len(req.GetConfig()))
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return nil, fmt.Errorf("config key %q: %w", k, err)
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := []string{"PULUMI_CONFIG=" + string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS=" + string(secretJSON)}
	return append(env, opts.env()...), nil
}

type packageJSON struct {
	Name            string            `json:"name"`
	Version         string            `json:"version"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	Pulumi          struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// installedPackage finds an installed dependency's package.json by Node's lookup: node_modules
// of the directory and of each parent.
func installedPackage(dir, name string) (*packageJSON, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p, err := readPackageJSON(filepath.Join(d, "node_modules", name, "package.json"))
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if filepath.Dir(d) == d {
			return nil, fmt.Errorf("dependency %s of %s is not installed (run `npm ci`)", name, dir)
		}
	}
}

// programPackage is the package.json that governs the program: the nearest one at or above its
// directory (Pulumi.yaml's `main` may point into a subdirectory, as clawjail's does).
func programPackage(dir string) (*packageJSON, string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		p, err := readPackageJSON(filepath.Join(d, "package.json"))
		if err == nil {
			return p, d, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, "", err
		}
		if filepath.Dir(d) == d {
			return nil, "", fmt.Errorf("no package.json at or above %s", dir)
		}
	}
}

// directDependencies are the program's dependencies (its package.json's), as installed, by name.
func directDependencies(programDir string) ([]string, map[string]*packageJSON, error) {
	root, dir, err := programPackage(programDir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the program's package.json: %w", err)
	}
	names := sortedKeys(root.Dependencies)
	installed := make(map[string]*packageJSON, len(names))
	for _, name := range names {
		p, err := installedPackage(dir, name)
		if err != nil {
			return nil, nil, err
		}
		installed[name] = p
	}
	return names, installed, nil
}

// requiredPackages lists the resource plugins the program's direct dependencies declare
// ("pulumi": {"resource": true} in their package.json), so the engine can say which is missing
// before the program runs. The dynamic provider needs no entry: the engine knows it.
func requiredPackages(programDir string) ([]*pulumirpc.PackageDependency, error) {
	names, installed, err := directDependencies(programDir)
	if err != nil {
		return nil, err
	}
	var pkgs []*pulumirpc.PackageDependency
	for _, name := range names {
		p := installed[name]
		if !p.Pulumi.Resource {
			continue
		}
		plugin, version := p.Pulumi.Name, p.Pulumi.Version
		if plugin == "" {
			plugin = strings.TrimPrefix(p.Name, "@pulumi/")
		}
		if version == "" {
			version = p.Version
		}
		pkgs = append(pkgs, &pulumirpc.PackageDependency{
			Name: plugin, Kind: "resource", Version: "v" + strings.TrimPrefix(version, "v"), Server: p.Pulumi.Server,
		})
	}
	return pkgs, nil
}

// programDependencies is what `pulumi about` shows: the direct dependencies as installed.
func programDependencies(programDir string) ([]*pulumirpc.DependencyInfo, error) {
	names, installed, err := directDependencies(programDir)
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(names))
	for _, name := range names {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: name, Version: installed[name].Version})
	}
	return deps, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
