package main

import (
	"net"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestThroughEngineClient drives the provider over gRPC with the engine's own client
// (plugin.NewProviderWithClient, the code `pulumi` uses to talk to resource plugins), through the
// lifecycle of one RandomPassword: configure, check, preview, create, diff, refresh, delete.
func TestThroughEngineClient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pulumirpc.RegisterResourceProviderServer(srv, newRandomProvider("4.21.4"))
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prov := plugin.NewProviderWithClient(nil, pulumirpc.NewResourceProviderClient(conn), false)

	info, err := prov.GetPluginInfo(ctx)
	if err != nil || info.Version == nil || info.Version.String() != "4.21.4" {
		t.Fatalf("GetPluginInfo: %+v %v", info, err)
	}
	providerType := tokens.Type("pulumi:providers:random")
	if _, err := prov.Configure(ctx, plugin.ConfigureRequest{Type: &providerType, Inputs: resource.PropertyMap{}}); err != nil {
		t.Fatal(err)
	}

	urn := resource.URN(passwordURN)
	checked, err := prov.Check(ctx, plugin.CheckRequest{
		URN: urn, Name: urn.Name(), Type: urn.Type(), AllowUnknowns: true,
		News: resource.NewPropertyMapFromMap(map[string]any{"length": 64, "special": false}),
	})
	if err != nil || len(checked.Failures) > 0 {
		t.Fatalf("Check: %v %v", checked.Failures, err)
	}

	preview, err := prov.Create(ctx, plugin.CreateRequest{URN: urn, Name: urn.Name(), Type: urn.Type(), Properties: checked.Properties, Preview: true})
	if err != nil || !preview.Properties["result"].ContainsUnknowns() {
		t.Fatalf("preview Create: %v %v", preview.Properties, err)
	}

	created, err := prov.Create(ctx, plugin.CreateRequest{URN: urn, Name: urn.Name(), Type: urn.Type(), Properties: checked.Properties})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "none" || !created.Properties["result"].IsSecret() || !created.Properties["bcryptHash"].IsSecret() {
		t.Fatalf("Create: id %q, outputs %v", created.ID, created.Properties)
	}
	if n := len(created.Properties["result"].SecretValue().Element.StringValue()); n != 64 {
		t.Fatalf("result has %d characters", n)
	}

	d, err := prov.Diff(ctx, plugin.DiffRequest{URN: urn, Name: urn.Name(), Type: urn.Type(), ID: created.ID,
		OldInputs: checked.Properties, OldOutputs: created.Properties, NewInputs: checked.Properties, AllowUnknowns: true})
	if err != nil || d.Changes != plugin.DiffNone {
		t.Fatalf("Diff (same): %+v %v", d, err)
	}
	changed := checked.Properties.Copy()
	changed["length"] = resource.NewNumberProperty(65)
	d, err = prov.Diff(ctx, plugin.DiffRequest{URN: urn, Name: urn.Name(), Type: urn.Type(), ID: created.ID,
		OldInputs: checked.Properties, OldOutputs: created.Properties, NewInputs: changed, AllowUnknowns: true})
	if err != nil || d.Changes != plugin.DiffSome || !d.Replace() || d.DeleteBeforeReplace {
		t.Fatalf("Diff (length): %+v %v", d, err)
	}

	read, err := prov.Read(ctx, plugin.ReadRequest{URN: urn, Name: urn.Name(), Type: urn.Type(), ID: created.ID,
		Inputs: checked.Properties, State: created.Properties})
	if err != nil {
		t.Fatal(err)
	}
	if read.ID != created.ID || !read.Outputs.DeepEquals(created.Properties) || !read.Inputs.DeepEquals(checked.Properties) ||
		!read.Outputs["result"].IsSecret() {
		t.Fatalf("Read changed the state:\n%v\n%v", read.Outputs, created.Properties)
	}

	if _, err := prov.Delete(ctx, plugin.DeleteRequest{URN: urn, Name: urn.Name(), Type: urn.Type(), ID: created.ID,
		Inputs: checked.Properties, Outputs: created.Properties}); err != nil {
		t.Fatal(err)
	}
}
