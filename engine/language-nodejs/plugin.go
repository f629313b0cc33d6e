package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// runPlugin starts a plugin written in Node.js: for us, the policy pack. A policy pack needs the
// stack's config before it starts, which the engine sends only over the analyzer protocol, so
// the SDK's PolicyProxy answers the engine first (ConfigureStack), then hands the connection on
// to the real pack once it is up.
func runPlugin(ctx context.Context, req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	context.AfterFunc(server.Context(), cancel)

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return err
	}
	isPolicyPack := req.GetKind() == string(apitype.AnalyzerPlugin)
	module := "@pulumi/pulumi/cmd/run-plugin"
	if isPolicyPack {
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	runPath, err := locateModule(dir, module)
	if err != nil {
		return err
	}

	args := append([]string{runPath}, opts.nodeArgs...)
	env := append(append([]string{}, req.GetEnv()...), opts.env()...)
	var proxy *sdk.PolicyProxy
	if isPolicyPack {
		// A policy pack takes the engine address first and its own directory last.
		args = append(append(args, req.GetArgs()...), dir)
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("could not start the policy pack proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("could not get the stack configuration for the policy pack: %w", err)
		}
		more, err := policyEnv(stack)
		if err != nil {
			return err
		}
		env = append(env, more...)
	} else {
		args = append(append(args, dir), req.GetArgs()...)
	}

	cmd := exec.CommandContext(ctx, "node", args...)
	// Policy packs have always run from their own directory.
	cmd.Dir = req.GetPwd()
	if isPolicyPack {
		cmd.Dir = dir
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start node for plugin %s: %w", req.GetName(), err)
	}
	if proxy != nil {
		if err := proxy.Attach(ctx, cmd); err != nil {
			return fmt.Errorf("could not attach the policy pack: %w", err)
		}
	} else if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("plugin %s exited with code %d", req.GetName(), exit.ExitCode())
		}
		return err
	}
	return closer.Close()
}

// policyEnv is how @pulumi/pulumi's policy runner learns which stack it is judging.
func policyEnv(stack *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if stack == nil {
		return nil, nil
	}
	var env []string
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	add("PULUMI_NODEJS_ORGANIZATION", stack.GetOrganization())
	add("PULUMI_NODEJS_PROJECT", stack.GetProject())
	add("PULUMI_NODEJS_STACK", stack.GetStack())
	add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(stack.GetDryRun()))
	if stack.GetConfig() != nil {
		b, err := json.Marshal(stack.GetConfig())
		if err != nil {
			return nil, fmt.Errorf("could not encode the stack configuration: %w", err)
		}
		add("PULUMI_CONFIG", string(b))
	}
	return env, nil
}
