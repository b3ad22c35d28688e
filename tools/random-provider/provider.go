package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync/atomic"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	providerName = "random"
	passwordType = tokens.Type("random:index/randomPassword:RandomPassword")
	stringType   = tokens.Type("random:index/randomString:RandomString")

	// metaKey is where pulumi-terraform-bridge keeps the Terraform schema version of a resource's
	// state ({"schema_version":"3"}). Writing the versions of the Terraform resources pulumi-random
	// 4.21.x bridges (random_password v3, random_string v2) lets the real provider read this
	// state without running its state upgraders.
	metaKey = "__meta"
)

// Property names, exactly as pulumi-random's schema spells them.
const (
	pLength          = "length"
	pSpecial         = "special"
	pUpper           = "upper"
	pLower           = "lower"
	pNumber          = "number" // deprecated alias of numeric, kept in sync with it
	pNumeric         = "numeric"
	pMinLower        = "minLower"
	pMinUpper        = "minUpper"
	pMinNumeric      = "minNumeric"
	pMinSpecial      = "minSpecial"
	pOverrideSpecial = "overrideSpecial"
	pKeepers         = "keepers"
	pResult          = "result"
	pBcryptHash      = "bcryptHash"
)

var (
	boolInputs = []string{pSpecial, pUpper, pLower, pNumber, pNumeric}
	minInputs  = []string{pMinLower, pMinUpper, pMinNumeric, pMinSpecial}
	// inputKeys are all input properties, sorted; a change to any of them replaces the resource.
	inputKeys = func() []string {
		keys := append(append([]string{pLength, pOverrideSpecial, pKeepers}, boolInputs...), minInputs...)
		sort.Strings(keys)
		return keys
	}()
)

// kind describes one of the two resource types.
type kind struct {
	token tokens.Type
	// password: result and bcryptHash are secret, the ID is "none", and there is a bcryptHash.
	password bool
	// tfSchemaVersion is the schema version of the Terraform resource behind the real provider.
	tfSchemaVersion int
}

var kinds = map[tokens.Type]kind{
	passwordType: {token: passwordType, password: true, tfSchemaVersion: 3},
	stringType:   {token: stringType, password: false, tfSchemaVersion: 2},
}

func kindOf(typ, urn string) (kind, error) {
	t := tokens.Type(typ)
	if t == "" && urn != "" {
		t = resource.URN(urn).Type()
	}
	k, ok := kinds[t]
	if !ok {
		return kind{}, status.Errorf(codes.InvalidArgument,
			"unknown resource type %q: this stand-in for pulumi-resource-random implements only %s and %s",
			t, passwordType, stringType)
	}
	return k, nil
}

type randomProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	version string
	// acceptSecrets: the engine said (Configure) that it accepts secret values in our responses.
	acceptSecrets atomic.Bool
}

func newRandomProvider(version string) *randomProvider {
	return &randomProvider{version: version}
}

func (p *randomProvider) unmarshal(label string, s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: true,
	})
}

func (p *randomProvider) marshal(label string, m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{
		Label: label, KeepUnknowns: true, KeepSecrets: p.acceptSecrets.Load(),
	})
}

// --- provider-level RPCs ---------------------------------------------------------------------

func (p *randomProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *randomProvider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "the random provider has no subpackage %q", req.GetSubpackageName())
	}
	s, err := packageSchema(p.version)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetSchemaResponse{Schema: s}, nil
}

// CheckConfig accepts any configuration: pulumi-random has no provider configuration.
func (p *randomProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *randomProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	oldInputs := req.GetOldInputs()
	if oldInputs == nil {
		oldInputs = req.GetOlds()
	}
	olds, err := p.unmarshal("diffConfig.olds", oldInputs)
	if err != nil {
		return nil, err
	}
	news, err := p.unmarshal("diffConfig.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if !resource.NewObjectProperty(olds).DeepEquals(resource.NewObjectProperty(news)) {
		changes = pulumirpc.DiffResponse_DIFF_SOME // nothing in it can force a replacement
	}
	return &pulumirpc.DiffResponse{Changes: changes}, nil
}

func (p *randomProvider) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	p.acceptSecrets.Store(req.GetAcceptSecrets())
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *randomProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// GetMapping: no mappings (the real provider maps to Terraform's "random"; only converters ask).
func (p *randomProvider) GetMapping(context.Context, *pulumirpc.GetMappingRequest) (*pulumirpc.GetMappingResponse, error) {
	return &pulumirpc.GetMappingResponse{}, nil
}

func (p *randomProvider) GetMappings(context.Context, *pulumirpc.GetMappingsRequest) (*pulumirpc.GetMappingsResponse, error) {
	return &pulumirpc.GetMappingsResponse{}, nil
}

// --- resource RPCs -----------------------------------------------------------------------------

func (p *randomProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if _, err := kindOf(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := p.unmarshal("check.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	inputs, failures := checkInputs(news)
	out, err := p.marshal("check.inputs", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: failures}, nil
}

func (p *randomProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if _, err := kindOf(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := p.unmarshal("diff.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := p.unmarshal("diff.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	return diffInputs(olds, news, req.GetIgnoreChanges()), nil
}

func (p *randomProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	props, err := p.unmarshal("create.properties", req.GetProperties())
	if err != nil {
		return nil, err
	}
	inputs, failures := checkInputs(props)
	if len(failures) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "%s: %s", failures[0].Property, failures[0].Reason)
	}
	outputs := inputs.Copy()
	outputs[metaKey] = resource.NewStringProperty(fmt.Sprintf(`{"schema_version":"%d"}`, k.tfSchemaVersion))

	var id string
	if req.GetPreview() {
		// The value is not known until the resource is created.
		outputs[pResult] = resource.MakeComputed(resource.NewStringProperty(""))
		if k.password {
			outputs[pBcryptHash] = resource.MakeComputed(resource.NewStringProperty(""))
		}
	} else {
		prm, err := paramsOf(inputs)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		result, err := generate(prm)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		if k.password {
			hash, err := bcryptHash(result)
			if err != nil {
				return nil, fmt.Errorf("bcrypt: %w", err)
			}
			outputs[pResult] = resource.MakeSecret(resource.NewStringProperty(result))
			outputs[pBcryptHash] = resource.MakeSecret(resource.NewStringProperty(hash))
			id = "none" // as the real provider: the ID of a password must not reveal it
		} else {
			outputs[pResult] = resource.NewStringProperty(result)
			id = result // as the real provider: a RandomString's ID is its result
		}
	}
	out, err := p.marshal("create.outputs", outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, nil
}

// Read returns the stored state unchanged: nothing outside Pulumi's state can change a random
// value, so `pulumi refresh` never finds drift. With no stored state (`pulumi import`), it builds
// the state from the ID, which is the value to import, as the real provider does.
func (p *randomProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	k, err := kindOf(req.GetType(), req.GetUrn())
	if err != nil {
		return nil, err
	}
	if len(req.GetProperties().GetFields()) > 0 {
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
	}
	return p.importValue(k, req.GetId())
}

func (p *randomProvider) importValue(k kind, value string) (*pulumirpc.ReadResponse, error) {
	if value == "" {
		return nil, status.Error(codes.InvalidArgument, "import needs the value to import as the ID")
	}
	inputs := resource.PropertyMap{pLength: resource.NewNumberProperty(float64(len([]rune(value))))}
	inputs, _ = checkInputs(inputs) // fills the defaults; cannot fail for a length >= 1
	outputs := inputs.Copy()
	outputs[metaKey] = resource.NewStringProperty(fmt.Sprintf(`{"schema_version":"%d"}`, k.tfSchemaVersion))
	id := value
	if k.password {
		hash, err := bcryptHash(value)
		if err != nil {
			return nil, fmt.Errorf("bcrypt: %w", err)
		}
		outputs[pResult] = resource.MakeSecret(resource.NewStringProperty(value))
		outputs[pBcryptHash] = resource.MakeSecret(resource.NewStringProperty(hash))
		id = "none"
	} else {
		outputs[pResult] = resource.NewStringProperty(value)
	}
	outS, err := p.marshal("read.outputs", outputs)
	if err != nil {
		return nil, err
	}
	inS, err := p.marshal("read.inputs", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: outS, Inputs: inS}, nil
}

// Update is never called by the engine (Diff reports every input change as a replacement). If it
// is, it keeps the generated value and takes the new inputs, as the Terraform provider does.
func (p *randomProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if _, err := kindOf(req.GetType(), req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := p.unmarshal("update.olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := p.unmarshal("update.news", req.GetNews())
	if err != nil {
		return nil, err
	}
	outputs := olds.Copy()
	for _, key := range inputKeys {
		if v, ok := news[resource.PropertyKey(key)]; ok {
			outputs[resource.PropertyKey(key)] = v
		} else {
			delete(outputs, resource.PropertyKey(key))
		}
	}
	out, err := p.marshal("update.outputs", outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

// Delete has nothing to delete: the value exists only in Pulumi's state.
func (p *randomProvider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// --- inputs ----------------------------------------------------------------------------------

// unwrapSecret returns the value inside any secret wrappers, and whether there was one.
func unwrapSecret(v resource.PropertyValue) (resource.PropertyValue, bool) {
	secret := false
	for v.IsSecret() {
		v, secret = v.SecretValue().Element, true
	}
	return v, secret
}

func rewrap(v resource.PropertyValue, secret bool) resource.PropertyValue {
	if secret {
		return resource.MakeSecret(v)
	}
	return v
}

func isUnknown(v resource.PropertyValue) bool {
	v, _ = unwrapSecret(v)
	return v.IsComputed() || (v.IsOutput() && !v.OutputValue().Known)
}

// intValue returns a known whole number, or ok=false.
func intValue(v resource.PropertyValue) (int, bool) {
	v, _ = unwrapSecret(v)
	if !v.IsNumber() {
		return 0, false
	}
	f := v.NumberValue()
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false
	}
	return int(f), true
}

func boolValue(v resource.PropertyValue) (bool, bool) {
	v, _ = unwrapSecret(v)
	if !v.IsBool() {
		return false, false
	}
	return v.BoolValue(), true
}

func failure(prop, format string, args ...any) *pulumirpc.CheckFailure {
	return &pulumirpc.CheckFailure{Property: prop, Reason: fmt.Sprintf(format, args...)}
}

// checkInputs validates the inputs and fills the defaults the real provider plans: special,
// upper, lower, numeric true; number = numeric (both are the same setting); minimums 0. Values
// that are unknown (preview) are kept and not validated. Secret inputs stay secret.
func checkInputs(news resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	inputs := resource.PropertyMap{}
	var failures []*pulumirpc.CheckFailure
	present := func(key string) (resource.PropertyValue, bool) {
		v, ok := news[resource.PropertyKey(key)]
		if !ok || v.IsNull() {
			return v, false
		}
		if inner, _ := unwrapSecret(v); inner.IsNull() {
			return v, false
		}
		return v, true
	}

	for key := range news {
		k := string(key)
		known := false
		for _, ik := range inputKeys {
			if k == ik {
				known = true
			}
		}
		if !known && !(len(k) > 2 && k[:2] == "__") {
			failures = append(failures, failure(k, "%q is not an input of this resource", k))
		}
	}

	// length: required, a whole number >= 1.
	length, lengthKnown := 0, false
	if v, ok := present(pLength); !ok {
		failures = append(failures, failure(pLength, "missing required property 'length'"))
	} else {
		inputs[pLength] = v
		if !isUnknown(v) {
			if n, ok := intValue(v); !ok {
				failures = append(failures, failure(pLength, "length must be a whole number"))
			} else if n < 1 {
				failures = append(failures, failure(pLength, "length (%d) must be >= 1", n))
			} else {
				length, lengthKnown = n, true
			}
		}
	}

	// Booleans, default true. number and numeric are one setting under two names.
	bools := map[string]*bool{}
	for _, key := range boolInputs {
		v, ok := present(key)
		if !ok {
			continue
		}
		inputs[resource.PropertyKey(key)] = v
		if isUnknown(v) {
			bools[key] = nil
			continue
		}
		b, isBool := boolValue(v)
		if !isBool {
			failures = append(failures, failure(key, "%s must be a boolean", key))
			continue
		}
		bools[key] = &b
	}
	numberV, hasNumber := inputs[pNumber]
	numericV, hasNumeric := inputs[pNumeric]
	switch {
	case hasNumber && hasNumeric:
		if a, b := bools[pNumber], bools[pNumeric]; a != nil && b != nil && *a != *b {
			failures = append(failures, failure(pNumeric,
				"number and numeric are both configured with different values (number is deprecated, use numeric)"))
		}
	case hasNumber:
		inputs[pNumeric] = numberV
		bools[pNumeric] = bools[pNumber]
	case hasNumeric:
		inputs[pNumber] = numericV
		bools[pNumber] = bools[pNumeric]
	}
	for _, key := range boolInputs {
		if _, ok := inputs[resource.PropertyKey(key)]; !ok {
			inputs[resource.PropertyKey(key)] = resource.NewBoolProperty(true)
			t := true
			bools[key] = &t
		}
	}

	// Minimums: whole numbers >= 0, default 0.
	sum, sumKnown := 0, true
	for _, key := range minInputs {
		v, ok := present(key)
		if !ok {
			inputs[resource.PropertyKey(key)] = resource.NewNumberProperty(0)
			continue
		}
		inputs[resource.PropertyKey(key)] = v
		if isUnknown(v) {
			sumKnown = false
			continue
		}
		n, isInt := intValue(v)
		if !isInt || n < 0 {
			failures = append(failures, failure(key, "%s must be a whole number >= 0", key))
			sumKnown = false
			continue
		}
		sum += n
	}
	if lengthKnown && sumKnown && length < sum {
		failures = append(failures, failure(pLength,
			"length (%d) must be >= minUpper + minLower + minNumeric + minSpecial (%d)", length, sum))
	}

	// At least one character class (unless some flag is not known yet).
	anyTrue, allKnown := false, true
	for _, key := range []string{pSpecial, pUpper, pLower, pNumeric} {
		if b := bools[key]; b == nil {
			allKnown = false
		} else if *b {
			anyTrue = true
		}
	}
	if allKnown && !anyTrue {
		failures = append(failures, failure(pNumeric,
			"at least one of special, upper, lower and numeric must be true"))
	}

	if v, ok := present(pOverrideSpecial); ok {
		inputs[pOverrideSpecial] = v
		if inner, _ := unwrapSecret(v); !isUnknown(v) && !inner.IsString() {
			failures = append(failures, failure(pOverrideSpecial, "overrideSpecial must be a string"))
		}
	}

	if v, ok := present(pKeepers); ok {
		keepers, f := checkKeepers(v)
		inputs[pKeepers] = keepers
		failures = append(failures, f...)
	}
	return inputs, failures
}

// checkKeepers accepts a map of strings; numbers and booleans become strings (the schema types
// keepers as map<string>, as Terraform does).
func checkKeepers(v resource.PropertyValue) (resource.PropertyValue, []*pulumirpc.CheckFailure) {
	if isUnknown(v) {
		return v, nil
	}
	inner, secret := unwrapSecret(v)
	if !inner.IsObject() {
		return v, []*pulumirpc.CheckFailure{failure(pKeepers, "keepers must be a map of strings")}
	}
	var failures []*pulumirpc.CheckFailure
	out := resource.PropertyMap{}
	for key, ev := range inner.ObjectValue() {
		e, eSecret := unwrapSecret(ev)
		switch {
		case isUnknown(ev) || e.IsString() || e.IsNull():
			out[key] = ev
		case e.IsNumber():
			out[key] = rewrap(resource.NewStringProperty(strconv.FormatFloat(e.NumberValue(), 'f', -1, 64)), eSecret)
		case e.IsBool():
			out[key] = rewrap(resource.NewStringProperty(strconv.FormatBool(e.BoolValue())), eSecret)
		default:
			failures = append(failures, failure(pKeepers+"."+string(key), "keepers values must be strings"))
			out[key] = ev
		}
	}
	return rewrap(resource.NewObjectProperty(out), secret), failures
}

// paramsOf reads the generation parameters from checked inputs, which must all be known.
func paramsOf(inputs resource.PropertyMap) (params, error) {
	for _, key := range inputKeys {
		if v, ok := inputs[resource.PropertyKey(key)]; ok && v.ContainsUnknowns() {
			return params{}, fmt.Errorf("%s is not known", key)
		}
	}
	var prm params
	prm.Length, _ = intValue(inputs[pLength])
	prm.Special, _ = boolValue(inputs[pSpecial])
	prm.Upper, _ = boolValue(inputs[pUpper])
	prm.Lower, _ = boolValue(inputs[pLower])
	prm.Numeric, _ = boolValue(inputs[pNumeric])
	prm.MinLower, _ = intValue(inputs[pMinLower])
	prm.MinUpper, _ = intValue(inputs[pMinUpper])
	prm.MinNumeric, _ = intValue(inputs[pMinNumeric])
	prm.MinSpecial, _ = intValue(inputs[pMinSpecial])
	if v, ok := inputs[pOverrideSpecial]; ok {
		if s, _ := unwrapSecret(v); s.IsString() {
			prm.OverrideSpecial = s.StringValue()
		}
	}
	return prm, nil
}

// --- diff ----------------------------------------------------------------------------------------

// normalized returns an input with its default applied and secrets removed, so that an omitted
// input equals its default and a secret equals its plain value.
func normalized(m resource.PropertyMap, key string) resource.PropertyValue {
	v, ok := m[resource.PropertyKey(key)]
	if ok {
		v = stripSecrets(v)
	}
	if ok && key == pKeepers && v.IsObject() {
		// Keepers whose value is null do not count (as upstream, where such keys are not stored).
		kept := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			if !e.IsNull() {
				kept[k] = e
			}
		}
		v = resource.NewObjectProperty(kept)
	}
	if ok && !v.IsNull() {
		return v
	}
	switch key {
	case pNumber, pNumeric:
		other := pNumeric
		if key == pNumeric {
			other = pNumber
		}
		if o, ok := m[resource.PropertyKey(other)]; ok && !stripSecrets(o).IsNull() {
			return stripSecrets(o)
		}
		return resource.NewBoolProperty(true)
	case pSpecial, pUpper, pLower:
		return resource.NewBoolProperty(true)
	case pMinLower, pMinUpper, pMinNumeric, pMinSpecial:
		return resource.NewNumberProperty(0)
	case pOverrideSpecial:
		return resource.NewStringProperty("") // "" and no override are the same (as upstream)
	case pKeepers:
		return resource.NewObjectProperty(resource.PropertyMap{})
	}
	return resource.NewNullProperty()
}

func stripSecrets(v resource.PropertyValue) resource.PropertyValue {
	v, _ = unwrapSecret(v)
	switch {
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = stripSecrets(e)
		}
		return resource.NewObjectProperty(out)
	case v.IsArray():
		out := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			out[i] = stripSecrets(e)
		}
		return resource.NewArrayProperty(out)
	}
	return v
}

// diffInputs compares old state with new checked inputs. Every changed input replaces the
// resource (create the new value, then delete the old one); an unknown new value counts as changed.
func diffInputs(olds, news resource.PropertyMap, ignoreChanges []string) *pulumirpc.DiffResponse {
	ignored := map[string]bool{}
	for _, k := range ignoreChanges {
		ignored[k] = true
	}
	has := func(m resource.PropertyMap, key string) bool {
		v, ok := m[resource.PropertyKey(key)]
		return ok && !stripSecrets(v).IsNull()
	}
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for _, key := range inputKeys {
		if ignored[key] {
			continue
		}
		o, n := normalized(olds, key), normalized(news, key)
		if !o.ContainsUnknowns() && !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		kindOfChange := pulumirpc.PropertyDiff_UPDATE_REPLACE
		switch {
		case !has(olds, key) && has(news, key):
			kindOfChange = pulumirpc.PropertyDiff_ADD_REPLACE
		case has(olds, key) && !has(news, key):
			kindOfChange = pulumirpc.PropertyDiff_DELETE_REPLACE
		}
		resp.Replaces = append(resp.Replaces, key)
		resp.Diffs = append(resp.Diffs, key)
		resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: kindOfChange, InputDiff: true}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}
