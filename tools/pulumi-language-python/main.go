// pulumi-language-python: the Python language host that scripts/install-pulumi builds
// when the official one cannot be had (no release archive and no Go module for the
// official host on this machine's module proxy).
//
// It speaks the engine's LanguageRuntime gRPC protocol, and leaves everything
// Python-specific to pulumi's own code in the sdk/v3 module: virtualenv, pip, poetry
// and uv handling come from its python/toolchain package, and programs run through
// the official pulumi-language-python-exec script, installed next to this binary.
// Policy packs written in Python (PulumiPolicy.yaml with `runtime: python`) run through
// RunPlugin, with the SDK's own policy runner (`python -m pulumi.policy`).
//
// The engine starts it with one argument, the engine's address, in the program
// directory, and reads the port it listens on from the first line of its stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time with -ldflags "-X main.version=vX.Y.Z".
var version = ""

// exitAfterUserMessage is the exec script's exit code for "the error was already
// shown to the user": the engine should bail without printing another message.
const exitAfterUserMessage = 32

// cancelGrace is how long a program gets after SIGINT before it is killed.
const cancelGrace = 5 * time.Second

// engineCheckInterval is how often the host checks that the engine that started it is
// still there. An engine that dies without closing its plugins (killed, or crashed) must
// not leave this host and its program running: when the check fails the host stops.
const engineCheckInterval = time.Second

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	execScript string

	// life ends when the engine is gone: runs in flight are then cancelled.
	life context.Context

	mu            sync.Mutex
	engineAddress string
}

// bound returns ctx, also cancelled when the host's life ends.
func (h *host) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(h.life, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.String("tracing", "", "accepted for compatibility; unused")
	flag.String("root", "", "accepted for compatibility; unused")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}

	self, err := os.Executable()
	if err != nil {
		fail("cannot locate own executable: %v", err)
	}
	if resolved, err := filepath.EvalSymlinks(self); err == nil {
		self = resolved
	}
	h := &host{execScript: filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")}
	if _, err := os.Stat(h.execScript); err != nil {
		fail("missing executor %s", h.execScript)
	}
	if args := flag.Args(); len(args) > 0 {
		h.engineAddress = args[0]
	}

	life, end := context.WithCancel(context.Background())
	h.life = life
	if h.engineAddress != "" {
		if err := rpcutil.Healthcheck(life, h.engineAddress, engineCheckInterval, end); err != nil {
			fail("could not watch the engine at %s: %v", h.engineAddress, err)
		}
	}
	stopServing := make(chan bool)
	go func() {
		<-life.Done()
		close(stopServing)
		// Runs in flight got SIGINT, then a kill after cancelGrace; do not outlive that.
		time.Sleep(2 * cancelGrace)
		fail("the engine at %s is gone", h.engineAddress)
	}()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stopServing,
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(s, h)
			return nil
		},
	})
	if err != nil {
		fail("could not start the language host: %v", err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail("language host stopped: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: "+format+"\n", args...)
	os.Exit(1)
}

// Handshake records the engine address; the program and root directories come again
// with every request that needs them.
func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// pythonOptions reads the project's runtime options (virtualenv, toolchain).
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Auto,
	}
	fields := info.GetOptions().GetFields()
	if v, ok := fields["virtualenv"]; ok {
		opts.Virtualenv = v.GetStringValue()
		if opts.Virtualenv != "" && !filepath.IsAbs(opts.Virtualenv) {
			opts.Virtualenv = filepath.Join(opts.Root, opts.Virtualenv)
		}
	}
	if v, ok := fields["toolchain"]; ok {
		switch name := v.GetStringValue(); name {
		case "", "auto":
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("unsupported python toolchain %q (expected pip, poetry or uv)", name)
		}
	}
	return opts, nil
}

func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts, err := pythonOptions(info)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(opts)
}

// GetPluginInfo reports the host's version.
func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// GetRequiredPlugins reports no plugins: providers are acquired by the engine when a
// resource first needs them, and the dynamic-provider plugin is bundled with the CLI.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages reports no packages, for the same reason as GetRequiredPlugins.
func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// RuntimeOptionsPrompts asks nothing more during `pulumi new`.
func (h *host) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// About reports the Python interpreter the program's toolchain uses.
func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   map[string]string{"toolchain-version": info.ToolchainVersion.String()},
	}, nil
}

// GetProgramDependencies lists the packages installed in the program's environment.
func (h *host) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, p := range pkgs {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return resp, nil
}

// streamWriter forwards dependency-installation output to the engine.
type streamWriter struct {
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	msg := &pulumirpc.InstallDependenciesResponse{}
	data := append([]byte(nil), p...)
	if w.stderr {
		msg.Stderr = data
	} else {
		msg.Stdout = data
	}
	if err := w.server.Send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

// InstallDependencies prepares the program's environment (creates the virtualenv and
// installs requirements) with pulumi's own toolchain code.
func (h *host) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{RootDirectory: req.GetDirectory(), ProgramDirectory: req.GetDirectory()}
	}
	tc, err := resolveToolchain(info)
	if err != nil {
		return err
	}
	var stdout, stderr io.Writer = streamWriter{server: server}, streamWriter{server: server, stderr: true}
	return tc.InstallDependencies(server.Context(), info.GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr)
}

// Run executes the program through the official exec script, in the program's
// virtualenv, with the stack's config in the environment.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	ctx, done := h.bound(ctx)
	defer done()
	info := req.GetInfo()
	if info == nil {
		return nil, errors.New("run request carries no program info")
	}
	tc, err := resolveToolchain(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	// An empty map, never null: the Python SDK iterates over PULUMI_CONFIG.
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	program := info.GetProgramDirectory()
	if entry := info.GetEntryPoint(); entry != "" && entry != "." {
		program = filepath.Join(program, entry)
	}
	args := []string{
		"-u", h.execScript,
		"--project", req.GetProject(),
		"--root_directory", info.GetRootDirectory(),
		"--stack", req.GetStack(),
		"--parallel", strconv.Itoa(int(req.GetParallel())),
		"--dry_run", strconv.FormatBool(req.GetDryRun()),
		"--pwd", req.GetPwd(),
		"--monitor", req.GetMonitorAddress(),
		"--engine", h.engine(),
		"--organization", req.GetOrganization(),
		program,
	}
	args = append(args, req.GetArgs()...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))
	cmd.Dir = req.GetPwd()
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	// When the engine cancels the run, interrupt the program first, kill it after a grace period.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = cancelGrace

	err = cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exitErr):
		code := exitErr.ExitCode()
		if code == exitAfterUserMessage {
			return &pulumirpc.RunResponse{Bail: true}, nil
		}
		if code == -1 {
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program was terminated: %v", exitErr)}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("problem executing program (could not run language executor): %v", err)}, nil
	}
}

// pluginKindAnalyzer is the RunPlugin kind of a policy pack.
const pluginKindAnalyzer = "analyzer"

// RunPlugin runs a policy pack written in Python (PulumiPolicy.yaml with `runtime: python`)
// through the SDK's `pulumi.policy` runner, in the pack's virtualenv. The runner takes the
// engine's flags and address (req.Args) and then the pack's directory; the pack prints the
// port of its analyzer server as the first line of its stdout, which the engine reads from
// the stream. Its stdout and stderr go back as chunks, then its exit code. The engine ends
// the plugin by cancelling the stream: the pack then gets SIGINT, and is killed after a
// grace period.
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	if kind := req.GetKind(); kind != pluginKindAnalyzer {
		return fmt.Errorf("running %q plugins written in Python is not supported; only policy packs (%q) are",
			kind, pluginKindAnalyzer)
	}
	info := req.GetInfo()
	if info == nil {
		return errors.New("run plugin request carries no program info")
	}
	ctx, done := h.bound(server.Context())
	defer done()
	tc, err := resolveToolchain(info)
	if err != nil {
		return err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return err
	}

	pack := info.GetProgramDirectory()
	if entry := info.GetEntryPoint(); entry != "" && entry != "." {
		pack = filepath.Join(pack, entry)
	}
	args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
	args = append(args, pack)
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	cmd.Env = pluginEnv(req.GetEnv(), cmd.Env)
	cmd.Dir = req.GetPwd()
	out := &pluginOutput{server: server}
	cmd.Stdout = pluginStream{out: out}
	cmd.Stderr = pluginStream{out: out, stderr: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = cancelGrace

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not start the policy pack %s: %w", pack, err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		// The engine is gone or done with the pack: nobody reads an exit code any more.
		return nil
	}
	var code int32
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
		code = int32(cmd.ProcessState.ExitCode())
	case errors.As(err, &exitErr):
		code = int32(exitErr.ExitCode())
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int32(ws.Signal())
		}
	default:
		return fmt.Errorf("policy pack %s: %w", pack, err)
	}
	return out.send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// pluginOutput serialises a plugin's messages on the engine's stream, which allows one
// sender at a time.
type pluginOutput struct {
	mu     sync.Mutex
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
}

func (o *pluginOutput) send(msg *pulumirpc.RunPluginResponse) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.server.Send(msg)
}

// pluginStream forwards one of a plugin's output streams as RunPlugin messages. When the
// stream to the engine is gone the output is dropped: the engine's cancellation, not a
// broken pipe, ends the plugin.
type pluginStream struct {
	out    *pluginOutput
	stderr bool
}

func (w pluginStream) Write(p []byte) (int, error) {
	data := append([]byte(nil), p...)
	msg := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: data}}
	if w.stderr {
		msg.Output = &pulumirpc.RunPluginResponse_Stderr{Stderr: data}
	}
	_ = w.out.send(msg)
	return len(p), nil
}

// pluginEnv is the environment the engine asked for (requested), with the changes the
// toolchain makes to this host's own environment (toolchainEnv) applied on top: the
// virtualenv's activation (VIRTUAL_ENV, PATH) and the variables it removes (PYTHONHOME).
func pluginEnv(requested, toolchainEnv []string) []string {
	if toolchainEnv == nil {
		return requested
	}
	if len(requested) == 0 {
		return toolchainEnv
	}
	own := envMap(os.Environ())
	activated := envMap(toolchainEnv)
	result := envMap(requested)
	for k, v := range activated {
		if ownValue, ok := own[k]; !ok || ownValue != v {
			result[k] = v
		}
	}
	for k := range own {
		if _, ok := activated[k]; !ok {
			delete(result, k)
		}
	}
	keys := make([]string, 0, len(result))
	for k := range result {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+result[k])
	}
	return env
}

// envMap reads KEY=VALUE entries; a later entry for a key wins, as in exec.Cmd.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
