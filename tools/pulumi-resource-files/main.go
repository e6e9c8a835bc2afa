// pulumi-resource-files: a tiny resource provider plugin (package `files`) that manages
// files on the local disk, built by scripts/build-test-provider.
//
// It exists so the tests can show `pulumi import` adopting a resource. The fixtures'
// Python dynamic providers cannot be imported: their `read` needs the serialised
// `__provider` input, which an import never has. No provider plugin can be downloaded
// on the machines the tests run on, so the project builds this one, on pulumi's sdk/v3
// module at the pinned version, and the tests install it as the `files` plugin.
//
// One resource type, files:index:File:
//
//	inputs   path (string, absolute), content (string)
//	outputs  path, content, size (number: the content's length in bytes)
//	ID       the absolute path
//
// A change of content is an update; a change of path is a replacement, deleting the old
// file first. Read reads the file named by the ID and reports the same path and content
// as inputs and outputs, so an imported file matches a program declaring it unchanged;
// an empty ID means the file is gone.
//
// The engine starts it with its own address as the last argument and reads the port
// this plugin listens on from the first line of its stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is set at build time with -ldflags "-X main.version=vX.Y.Z".
var version = ""

const (
	pkgName  = "files"
	fileType = "files:index:File"
)

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	// The engine starts a provider with its own address as the last argument, after any
	// logging or tracing flags (--logtostderr, -v=N, --tracing <endpoint>); this plugin
	// sends nothing to the engine and ignores them all. The flag package is not used: pulumi's sdk registers glog's flags on
	// the global flag set, and a definition of the same names panics.
	args := os.Args[1:]
	for _, a := range args {
		if a == "-version" || a == "--version" {
			fmt.Println(version)
			return
		}
	}

	p := &provider{}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(s *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(s, p)
			return nil
		},
	})
	if err != nil {
		fail("could not start the provider: %v", err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail("provider stopped: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-resource-files: "+format+"\n", args...)
	os.Exit(1)
}

// Property (un)marshalling. The handshake declines secrets and resource references, so
// the engine strips both before calling and restores secretness on the way back.
// Unknowns are kept: previews may send them.
var (
	unmarshalOpts = plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true}
	marshalOpts   = plugin.MarshalOptions{KeepUnknowns: true}
)

func unmarshal(s *structpb.Struct, what string) (resource.PropertyMap, error) {
	m, err := plugin.UnmarshalProperties(s, unmarshalOpts)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "unreadable %s: %v", what, err)
	}
	return m, nil
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	s, err := plugin.MarshalProperties(m, marshalOpts)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cannot encode properties: %v", err)
	}
	return s, nil
}

func checkType(t string) error {
	if t != fileType {
		return status.Errorf(codes.InvalidArgument, "unknown resource type %q (this provider has only %s)", t, fileType)
	}
	return nil
}

// state is what the provider reports for a file: its path and content, and the size.
// Either string may be unknown during a preview, and then the size is unknown too.
func state(path, content resource.PropertyValue) resource.PropertyMap {
	size := resource.MakeComputed(resource.NewStringProperty(""))
	if content.IsString() {
		size = resource.NewNumberProperty(float64(len(content.StringValue())))
	}
	return resource.PropertyMap{"path": path, "content": content, "size": size}
}

// inputs keeps only the two input properties of a property map.
func inputs(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range []resource.PropertyKey{"path", "content"} {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// Handshake declares the plugin's protocol: plain values only (no secrets, resource
// references or outputs).
func (p *provider) Handshake(
	context.Context, *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{}, nil
}

// GetPluginInfo reports the version the plugin was built as (without the leading "v").
func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version, "v")}, nil
}

// GetSchema describes the one resource, for code generation and `pulumi package`.
func (p *provider) GetSchema(
	context.Context, *pulumirpc.GetSchemaRequest,
) (*pulumirpc.GetSchemaResponse, error) {
	str := map[string]any{"type": "string"}
	schema := map[string]any{
		"name":        pkgName,
		"description": "Files on the local disk (a pulumi-auto test provider).",
		"resources": map[string]any{
			fileType: map[string]any{
				"description": "A file at an absolute path with the given content.",
				"inputProperties": map[string]any{
					"path":    str,
					"content": str,
				},
				"requiredInputs": []string{"path", "content"},
				"properties": map[string]any{
					"path":    str,
					"content": str,
					"size":    map[string]any{"type": "number"},
				},
				"required": []string{"path", "content", "size"},
			},
		},
	}
	if v := strings.TrimPrefix(version, "v"); v != "" {
		schema["version"] = v
	}
	text, err := json.Marshal(schema)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "cannot encode the schema: %v", err)
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(text)}, nil
}

// The provider has no configuration: CheckConfig, DiffConfig and Configure accept
// whatever they are given.

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(
	context.Context, *pulumirpc.ConfigureRequest,
) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

// Check validates a file's inputs: an absolute `path` and a string `content`. `size` is an
// output; a program may name it among its properties (as null) to read it back, so it is
// dropped here. Anything else is a failure. Unknown values (previews) pass unchecked.
func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "inputs")
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	failed := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	for _, k := range news.StableKeys() {
		if k != "path" && k != "content" && k != "size" {
			failed(string(k), fmt.Sprintf("unknown property %q (a file has only path and content)", k))
		}
	}
	switch path, ok := news["path"]; {
	case !ok:
		failed("path", "missing required property 'path'")
	case path.ContainsUnknowns():
	case !path.IsString():
		failed("path", "'path' must be a string")
	case !filepath.IsAbs(path.StringValue()):
		failed("path", fmt.Sprintf("'path' must be absolute, got %q", path.StringValue()))
	}
	switch content, ok := news["content"]; {
	case !ok:
		failed("content", "missing required property 'content'")
	case content.ContainsUnknowns():
	case !content.IsString():
		failed("content", "'content' must be a string")
	}
	checked, err := marshal(inputs(news))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: checked, Failures: failures}, nil
}

// Diff compares the new inputs with the file's last known state: a new content is an
// update, a new path a replacement that deletes the old file first (it may be the file
// the new one would be, were the path changed back and forth).
func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds(), "old state")
	if err != nil {
		return nil, err
	}
	oldInputs, err := unmarshal(req.GetOldInputs(), "old inputs")
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "new inputs")
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		HasDetailedDiff: true,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
	}
	for _, k := range []resource.PropertyKey{"path", "content"} {
		old, ok := olds[k]
		if !ok {
			old = oldInputs[k]
		}
		if old.DeepEquals(news[k]) {
			continue
		}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
		resp.Diffs = append(resp.Diffs, string(k))
		kind := pulumirpc.PropertyDiff_UPDATE
		if k == "path" {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
			resp.Replaces = append(resp.Replaces, string(k))
			resp.DeleteBeforeReplace = true
		}
		resp.DetailedDiff[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// write puts content into the file at path, creating its directory if needed.
func write(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return status.Errorf(codes.Unknown, "cannot create the directory of %s: %v", path, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return status.Errorf(codes.Unknown, "cannot write %s: %v", path, err)
	}
	return nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	props, err := unmarshal(req.GetProperties(), "inputs")
	if err != nil {
		return nil, err
	}
	path, content := props["path"], props["content"]
	outs, err := marshal(state(path, content))
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		return &pulumirpc.CreateResponse{Properties: outs}, nil
	}
	if !path.IsString() || !content.IsString() {
		return nil, status.Error(codes.InvalidArgument, "a file needs a string path and content")
	}
	if err := write(path.StringValue(), content.StringValue()); err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: path.StringValue(), Properties: outs}, nil
}

// Read reports the file named by the ID as it is on disk: its path and content as both
// inputs and outputs (so a program declaring the same file sees no change after an
// import or a refresh), and its size. A missing file is reported with an empty ID and no
// properties, which the engine takes as "does not exist".
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	id := req.GetId()
	if !filepath.IsAbs(id) {
		return nil, status.Errorf(codes.InvalidArgument, "a file's ID is its absolute path, got %q", id)
	}
	data, err := os.ReadFile(id)
	if errors.Is(err, fs.ErrNotExist) {
		return &pulumirpc.ReadResponse{}, nil
	}
	if err != nil {
		return nil, status.Errorf(codes.Unknown, "cannot read %s: %v", id, err)
	}
	if !utf8.Valid(data) {
		return nil, status.Errorf(codes.InvalidArgument, "%s is not UTF-8 text", id)
	}
	path, content := resource.NewStringProperty(id), resource.NewStringProperty(string(data))
	outs, err := marshal(state(path, content))
	if err != nil {
		return nil, err
	}
	ins, err := marshal(resource.PropertyMap{"path": path, "content": content})
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: outs, Inputs: ins}, nil
}

// Update rewrites the file with the new content (a new path never gets here: it is a
// replacement).
func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews(), "new inputs")
	if err != nil {
		return nil, err
	}
	path, content := news["path"], news["content"]
	outs, err := marshal(state(path, content))
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		return &pulumirpc.UpdateResponse{Properties: outs}, nil
	}
	if !path.IsString() || !content.IsString() {
		return nil, status.Error(codes.InvalidArgument, "a file needs a string path and content")
	}
	if path.StringValue() != req.GetId() {
		return nil, status.Errorf(codes.InvalidArgument,
			"cannot move %s to %s in an update (a new path is a replacement)", req.GetId(), path.StringValue())
	}
	if err := write(path.StringValue(), content.StringValue()); err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: outs}, nil
}

// Delete removes the file; one already gone is not an error.
func (p *provider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	id := req.GetId()
	if !filepath.IsAbs(id) {
		return nil, status.Errorf(codes.InvalidArgument, "a file's ID is its absolute path, got %q", id)
	}
	if err := os.Remove(id); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.Unknown, "cannot delete %s: %v", id, err)
	}
	return &emptypb.Empty{}, nil
}

// Cancel has nothing to stop: every operation is a single quick file system call.
func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
