package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	passwordURN = "urn:pulumi:test::proj::random:index/randomPassword:RandomPassword::pw"
	stringURN   = "urn:pulumi:test::proj::random:index/randomString:RandomString::key"
)

var ctx = context.Background()

// configured returns a provider configured as the engine does (it accepts secrets).
func configured(t *testing.T) *randomProvider {
	t.Helper()
	p := newRandomProvider("4.21.4")
	if _, err := p.Configure(ctx, &pulumirpc.ConfigureRequest{AcceptSecrets: true, Args: &structpb.Struct{}}); err != nil {
		t.Fatal(err)
	}
	return p
}

// wire encodes a property map as the engine sends it (secrets and unknowns kept).
func wire(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unwire(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func props(kv map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(kv) }

func check(t *testing.T, p *randomProvider, urn string, news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	resp, err := p.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: wire(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	return unwire(t, resp.GetInputs()), resp.GetFailures()
}

func create(t *testing.T, p *randomProvider, urn string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap) {
	t.Helper()
	resp, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: urn, Properties: wire(t, inputs), Preview: preview})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetId(), unwire(t, resp.GetProperties())
}

func TestCheckFillsDefaults(t *testing.T) {
	p := configured(t)
	inputs, failures := check(t, p, passwordURN, props(map[string]any{"length": 24}))
	if len(failures) > 0 {
		t.Fatalf("failures: %v", failures)
	}
	want := props(map[string]any{
		"length": 24, "special": true, "upper": true, "lower": true, "number": true, "numeric": true,
		"minLower": 0, "minUpper": 0, "minNumeric": 0, "minSpecial": 0,
	})
	if !inputs.DeepEquals(want) {
		t.Fatalf("got %v, want %v", inputs, want)
	}

	// What credentials.py's access_key() sends, and the deprecated `number` kept in sync.
	inputs, failures = check(t, p, stringURN, props(map[string]any{
		"length": 30, "special": false, "lower": false, "upper": true, "numeric": true,
		"overrideSpecial": "-", "keepers": map[string]any{"a": "b", "n": 1},
	}))
	if len(failures) > 0 {
		t.Fatalf("failures: %v", failures)
	}
	if !inputs["number"].DeepEquals(resource.NewBoolProperty(true)) || !inputs["special"].DeepEquals(resource.NewBoolProperty(false)) {
		t.Fatalf("number/special: %v", inputs)
	}
	if got := inputs["keepers"].ObjectValue()["n"]; !got.DeepEquals(resource.NewStringProperty("1")) {
		t.Fatalf("keepers.n = %v, want the string \"1\"", got)
	}
	inputs, _ = check(t, p, stringURN, props(map[string]any{"length": 3, "number": false}))
	if !inputs["numeric"].DeepEquals(resource.NewBoolProperty(false)) {
		t.Fatalf("numeric should follow number=false: %v", inputs)
	}
}

func TestCheckValidation(t *testing.T) {
	p := configured(t)
	for _, tc := range []struct {
		name   string
		news   map[string]any
		prop   string
		reason string
	}{
		{"missing length", map[string]any{}, "length", "missing required property"},
		{"length 0", map[string]any{"length": 0}, "length", "must be >= 1"},
		{"fractional length", map[string]any{"length": 2.5}, "length", "whole number"},
		{"length < sum of minimums", map[string]any{"length": 4, "minUpper": 2, "minLower": 2, "minSpecial": 1}, "length", "(5)"},
		{"no class enabled", map[string]any{"length": 4, "special": false, "upper": false, "lower": false, "numeric": false}, "numeric", "at least one"},
		{"number contradicts numeric", map[string]any{"length": 4, "number": true, "numeric": false}, "numeric", "different values"},
		{"negative minimum", map[string]any{"length": 4, "minLower": -1}, "minLower", ">= 0"},
		{"bool of wrong type", map[string]any{"length": 4, "upper": "yes"}, "upper", "boolean"},
		{"keepers not a map", map[string]any{"length": 4, "keepers": "x"}, "keepers", "map"},
		{"unknown property", map[string]any{"length": 4, "bogus": 1}, "bogus", "not an input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, failures := check(t, p, passwordURN, props(tc.news))
			for _, f := range failures {
				if f.GetProperty() == tc.prop && strings.Contains(f.GetReason(), tc.reason) {
					return
				}
			}
			t.Fatalf("want a failure on %s containing %q, got %v", tc.prop, tc.reason, failures)
		})
	}
}

func TestCheckSkipsUnknowns(t *testing.T) {
	p := configured(t)
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	inputs, failures := check(t, p, passwordURN, resource.PropertyMap{
		"length": unknown, "minLower": resource.NewNumberProperty(100), "upper": unknown,
		"keepers": resource.NewObjectProperty(resource.PropertyMap{"k": unknown}),
	})
	if len(failures) > 0 {
		t.Fatalf("unknown values must not fail validation: %v", failures)
	}
	if !inputs["length"].IsComputed() || !inputs["upper"].IsComputed() {
		t.Fatalf("unknowns not kept: %v", inputs)
	}
}

func TestCreatePasswordIsSecret(t *testing.T) {
	p := configured(t)
	inputs, _ := check(t, p, passwordURN, props(map[string]any{"length": 64, "special": false}))
	id, out := create(t, p, passwordURN, inputs, false)
	if id != "none" {
		t.Fatalf("id = %q, want \"none\" like the real provider", id)
	}
	for _, key := range []resource.PropertyKey{"result", "bcryptHash"} {
		if !out[key].IsSecret() {
			t.Fatalf("%s is not a secret: %v", key, out[key])
		}
	}
	result := out["result"].SecretValue().Element.StringValue()
	if len(result) != 64 || !allIn(result, upperChars+lowerChars+numericChars) {
		t.Fatalf("result %q: want 64 alphanumerics", result)
	}
	if out[metaKey].StringValue() != `{"schema_version":"3"}` {
		t.Fatalf("__meta = %v", out[metaKey])
	}
	for _, key := range inputKeys { // outputs carry all inputs
		if _, ok := inputs[resource.PropertyKey(key)]; ok && !out[resource.PropertyKey(key)].DeepEquals(inputs[resource.PropertyKey(key)]) {
			t.Fatalf("output %s = %v, input %v", key, out[resource.PropertyKey(key)], inputs[resource.PropertyKey(key)])
		}
	}

	// An engine that does not accept secrets gets plain values.
	plain := newRandomProvider("4.21.4")
	_, _ = plain.Configure(ctx, &pulumirpc.ConfigureRequest{})
	_, out = create(t, plain, passwordURN, inputs, false)
	if out["result"].IsSecret() || !out["result"].IsString() {
		t.Fatalf("result should be a plain string without acceptSecrets: %v", out["result"])
	}
}

func TestCreateString(t *testing.T) {
	p := configured(t)
	inputs, _ := check(t, p, stringURN, props(map[string]any{
		"length": 30, "special": false, "lower": false, "upper": true, "numeric": true, "minNumeric": 5,
	}))
	id, out := create(t, p, stringURN, inputs, false)
	if out["result"].IsSecret() {
		t.Fatal("a RandomString result is not a secret in the real provider either")
	}
	result := out["result"].StringValue()
	if id != result {
		t.Fatalf("id %q != result %q (the real provider uses the result as ID)", id, result)
	}
	if len(result) != 30 || !allIn(result, upperChars+numericChars) || countIn(result, numericChars) < 5 {
		t.Fatalf("result %q: want 30 upper-case letters and digits, at least 5 digits", result)
	}
	if _, ok := out["bcryptHash"]; ok {
		t.Fatal("RandomString has no bcryptHash")
	}
	if out[metaKey].StringValue() != `{"schema_version":"2"}` {
		t.Fatalf("__meta = %v", out[metaKey])
	}
}

func TestCreatePreviewIsUnknown(t *testing.T) {
	p := configured(t)
	inputs, _ := check(t, p, passwordURN, props(map[string]any{"length": 8}))
	id, out := create(t, p, passwordURN, inputs, true)
	if id != "" || !out["result"].ContainsUnknowns() || !out["bcryptHash"].ContainsUnknowns() {
		t.Fatalf("preview: id %q, outputs %v", id, out)
	}
}

func diff(t *testing.T, p *randomProvider, olds, news resource.PropertyMap) *pulumirpc.DiffResponse {
	t.Helper()
	resp, err := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: passwordURN, Id: "none", Olds: wire(t, olds), News: wire(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDiff(t *testing.T) {
	p := configured(t)
	inputs, _ := check(t, p, passwordURN, props(map[string]any{"length": 24, "special": false, "keepers": map[string]any{"a": "1"}}))
	_, state := create(t, p, passwordURN, inputs, false)

	if d := diff(t, p, state, inputs); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE || len(d.GetReplaces()) > 0 {
		t.Fatalf("same inputs: %v", d)
	}
	// An omitted input equals its default; "" equals no overrideSpecial (as upstream).
	raw := props(map[string]any{"length": 24, "special": false, "keepers": map[string]any{"a": "1"}, "overrideSpecial": ""})
	if d := diff(t, p, state, raw); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("defaults: %v", d)
	}

	for _, tc := range []struct {
		name   string
		change map[string]any
		key    string
		kind   pulumirpc.PropertyDiff_Kind
	}{
		{"length", map[string]any{"length": 25}, "length", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"special", map[string]any{"special": true}, "special", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"minUpper", map[string]any{"minUpper": 2}, "minUpper", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"keepers", map[string]any{"keepers": map[string]any{"a": "2"}}, "keepers", pulumirpc.PropertyDiff_UPDATE_REPLACE},
		{"overrideSpecial", map[string]any{"overrideSpecial": "#"}, "overrideSpecial", pulumirpc.PropertyDiff_ADD_REPLACE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			news := inputs.Copy()
			for k, v := range props(tc.change) {
				news[k] = v
			}
			news, failures := check(t, p, passwordURN, news)
			if len(failures) > 0 {
				t.Fatal(failures)
			}
			d := diff(t, p, state, news)
			if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || !slices.Equal(d.GetReplaces(), []string{tc.key}) ||
				d.GetDeleteBeforeReplace() || d.GetDetailedDiff()[tc.key].GetKind() != tc.kind {
				t.Fatalf("diff: %v", d)
			}
		})
	}

	// A keeper whose value is null does not count (as upstream).
	news := inputs.Copy()
	news["keepers"] = resource.NewObjectProperty(resource.PropertyMap{"a": resource.NewStringProperty("1"), "b": resource.NewNullProperty()})
	if d := diff(t, p, state, news); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("null keeper: %v", d)
	}

	// Removing keepers replaces; an unknown new value replaces; ignoreChanges is honoured.
	news = inputs.Copy()
	delete(news, "keepers")
	if d := diff(t, p, state, news); !slices.Equal(d.GetReplaces(), []string{"keepers"}) ||
		d.GetDetailedDiff()["keepers"].GetKind() != pulumirpc.PropertyDiff_DELETE_REPLACE {
		t.Fatalf("keepers removed: %v", d)
	}
	news = inputs.Copy()
	news["keepers"] = resource.NewObjectProperty(resource.PropertyMap{"a": resource.MakeComputed(resource.NewStringProperty(""))})
	if d := diff(t, p, state, news); !slices.Equal(d.GetReplaces(), []string{"keepers"}) {
		t.Fatalf("unknown keeper: %v", d)
	}
	news = inputs.Copy()
	news["length"] = resource.NewNumberProperty(99)
	resp, err := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: passwordURN, Olds: wire(t, state), News: wire(t, news), IgnoreChanges: []string{"length"}})
	if err != nil || resp.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("ignoreChanges: %v %v", resp, err)
	}
	// A secret input equal to the stored plain value is no change.
	news = inputs.Copy()
	news["length"] = resource.MakeSecret(resource.NewNumberProperty(24))
	if d := diff(t, p, state, news); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("secret length: %v", d)
	}
}

func TestReadReturnsState(t *testing.T) {
	p := configured(t)
	inputs, _ := check(t, p, passwordURN, props(map[string]any{"length": 16}))
	id, state := create(t, p, passwordURN, inputs, false)
	req := &pulumirpc.ReadRequest{Id: id, Urn: passwordURN, Properties: wire(t, state), Inputs: wire(t, inputs)}
	resp, err := p.Read(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != id || !proto.Equal(resp.GetProperties(), req.GetProperties()) || !proto.Equal(resp.GetInputs(), req.GetInputs()) {
		t.Fatalf("read changed the state: %v", resp)
	}
	if !unwire(t, resp.GetProperties())["result"].IsSecret() {
		t.Fatal("result lost its secret marking")
	}
}

func TestReadImports(t *testing.T) {
	p := configured(t)
	resp, err := p.Read(ctx, &pulumirpc.ReadRequest{Id: "s3cret", Urn: passwordURN})
	if err != nil {
		t.Fatal(err)
	}
	out := unwire(t, resp.GetProperties())
	if resp.GetId() != "none" || out["result"].SecretValue().Element.StringValue() != "s3cret" || out["length"].NumberValue() != 6 {
		t.Fatalf("import: id %q, %v", resp.GetId(), out)
	}
	resp, err = p.Read(ctx, &pulumirpc.ReadRequest{Id: "ABC123", Urn: stringURN})
	if err != nil || resp.GetId() != "ABC123" || unwire(t, resp.GetProperties())["result"].StringValue() != "ABC123" {
		t.Fatalf("import string: %v %v", resp, err)
	}
}

func TestUpdateKeepsResultDeleteIsNoop(t *testing.T) {
	p := configured(t)
	inputs, _ := check(t, p, stringURN, props(map[string]any{"length": 10}))
	_, state := create(t, p, stringURN, inputs, false)
	news := inputs.Copy()
	news["keepers"] = resource.NewObjectProperty(resource.PropertyMap{"x": resource.NewStringProperty("y")})
	resp, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: stringURN, Olds: wire(t, state), News: wire(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	out := unwire(t, resp.GetProperties())
	if !out["result"].DeepEquals(state["result"]) || !out["keepers"].DeepEquals(news["keepers"]) {
		t.Fatalf("update: %v", out)
	}
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: stringURN, Id: "x", Properties: wire(t, state)}); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownType(t *testing.T) {
	p := configured(t)
	_, err := p.Check(ctx, &pulumirpc.CheckRequest{Urn: "urn:pulumi:test::proj::random:index/randomPet:RandomPet::x", News: &structpb.Struct{}})
	if err == nil || !strings.Contains(err.Error(), "RandomPet") {
		t.Fatalf("want an error naming the type, got %v", err)
	}
}

func TestPluginInfoAndSchema(t *testing.T) {
	p := configured(t)
	info, err := p.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "4.21.4" {
		t.Fatalf("plugin info %v %v", info, err)
	}
	resp, err := p.GetSchema(ctx, &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Name, Version string
		Resources     map[string]struct {
			Properties map[string]struct {
				Type   string
				Secret bool
			}
			InputProperties          map[string]struct{ Type string }
			Required, RequiredInputs []string
		}
	}
	if err := json.Unmarshal([]byte(resp.GetSchema()), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "random" || s.Version != "4.21.4" || len(s.Resources) != 2 {
		t.Fatalf("schema header: %s %s %d resources", s.Name, s.Version, len(s.Resources))
	}
	pw := s.Resources[string(passwordType)]
	if !pw.Properties["result"].Secret || !pw.Properties["bcryptHash"].Secret || pw.InputProperties["length"].Type != "integer" ||
		!slices.Equal(pw.RequiredInputs, []string{"length"}) {
		t.Fatalf("password schema: %+v", pw)
	}
	if st := s.Resources[string(stringType)]; st.Properties["result"].Secret || len(st.InputProperties) != 12 {
		t.Fatalf("string schema: %+v", st)
	}
}

func TestConfig(t *testing.T) {
	p := newRandomProvider("4.21.4")
	empty := &structpb.Struct{}
	if r, err := p.CheckConfig(ctx, &pulumirpc.CheckRequest{News: empty}); err != nil || len(r.GetFailures()) > 0 {
		t.Fatalf("CheckConfig: %v %v", r, err)
	}
	if r, err := p.DiffConfig(ctx, &pulumirpc.DiffRequest{OldInputs: empty, News: empty}); err != nil || r.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("DiffConfig: %v %v", r, err)
	}
	r, err := p.Configure(ctx, &pulumirpc.ConfigureRequest{Args: empty, AcceptSecrets: true})
	if err != nil || !r.GetAcceptSecrets() || !r.GetSupportsPreview() {
		t.Fatalf("Configure: %v %v", r, err)
	}
}
