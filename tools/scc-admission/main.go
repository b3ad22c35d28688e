// clearml-scc-admission serves OpenShift's own SecurityContextConstraints admission plugin
// (github.com/openshift/apiserver-library-go, package sccadmission) to a plain kube-apiserver as a
// mutating and a validating admission webhook for pods, so that a local test cluster admits pods
// exactly as OpenShift does: same SCC choice, same assigned runAsUser/fsGroup/SELinux level, same
// refusals and messages, and the `openshift.io/scc` annotation.
//
// Around the plugin it provides what OpenShift's kube-apiserver gives it: an SCC informer, a
// namespace informer, and an authorizer that asks the API server (SubjectAccessReview), so that the
// `system:openshift:scc:*` ClusterRoles and RoleBindings decide who may use which SCC.
//
// It also plays cluster-policy-controller's part for namespaces: a mutating webhook on namespace
// CREATE writes `openshift.io/sa.scc.uid-range`, `sa.scc.supplemental-groups` and `sa.scc.mcs`
// with a free block of 10000 UIDs chosen at random, unless the namespace already has them.
//
// Built inside a copy of the apiserver-library-go source with its vendor/ tree
// (scripts/build-scc-admission.sh); it imports only packages that tree vendors.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	coreapi "k8s.io/kubernetes/pkg/apis/core"
	corev1conv "k8s.io/kubernetes/pkg/apis/core/v1"

	securityv1client "github.com/openshift/client-go/security/clientset/versioned"
	securityv1informer "github.com/openshift/client-go/security/informers/externalversions/security/v1"
	securityv1listers "github.com/openshift/client-go/security/listers/security/v1"

	"github.com/openshift/apiserver-library-go/pkg/securitycontextconstraints/sccadmission"
)

// The plugin's interfaces, as OpenShift's admission chain calls them.
type sccPlugin interface {
	admission.MutationInterface
	admission.ValidationInterface
	SetSecurityInformers(securityv1informer.SecurityContextConstraintsInformer)
	SetExternalKubeInformerFactory(informers.SharedInformerFactory)
	SetAuthorizer(authorizer.Authorizer)
	ValidateInitialization() error
}

// --- admission.k8s.io/v1 AdmissionReview, the fields a webhook reads and writes ----------------
type review struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Request    *request  `json:"request,omitempty"`
	Response   *response `json:"response,omitempty"`
}

type request struct {
	UID         types.UID                   `json:"uid"`
	Resource    metav1.GroupVersionResource `json:"resource"`
	SubResource string                      `json:"subResource,omitempty"`
	Name        string                      `json:"name,omitempty"`
	Namespace   string                      `json:"namespace,omitempty"`
	Operation   string                      `json:"operation"`
	UserInfo    authenticationv1.UserInfo   `json:"userInfo"`
	Object      runtime.RawExtension        `json:"object,omitempty"`
	OldObject   runtime.RawExtension        `json:"oldObject,omitempty"`
	DryRun      *bool                       `json:"dryRun,omitempty"`
}

type response struct {
	UID       types.UID      `json:"uid"`
	Allowed   bool           `json:"allowed"`
	Result    *metav1.Status `json:"status,omitempty"`
	Patch     []byte         `json:"patch,omitempty"`
	PatchType *string        `json:"patchType,omitempty"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// --- authorizer: "may this user or service account use SCC X" asked of the API server ------------
type sarAuthorizer struct {
	client kubernetes.Interface
}

func (s sarAuthorizer) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	u := a.GetUser()
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range u.GetExtra() {
		extra[k] = v
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: a.GetNamespace(), Verb: a.GetVerb(), Group: a.GetAPIGroup(), Version: a.GetAPIVersion(),
			Resource: a.GetResource(), Subresource: a.GetSubresource(), Name: a.GetName(),
		},
	}}
	res, err := s.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return authorizer.DecisionNoOpinion, "", err
	}
	if res.Status.Allowed {
		return authorizer.DecisionAllow, res.Status.Reason, nil
	}
	return authorizer.DecisionNoOpinion, res.Status.Reason, nil
}

// sccInformer adapts a shared informer to the plugin's SecurityContextConstraintsInformer.
type sccInformer struct{ inf cache.SharedIndexInformer }

func (s sccInformer) Informer() cache.SharedIndexInformer { return s.inf }
func (s sccInformer) Lister() securityv1listers.SecurityContextConstraintsLister {
	return securityv1listers.NewSecurityContextConstraintsLister(s.inf.GetIndexer())
}

type server struct {
	plugin     sccPlugin
	namespaces corev1listers.NamespaceLister
	nsMu       sync.Mutex // one namespace allocation at a time
	allocated  map[int]bool
}

func main() {
	var (
		listen   = flag.String("listen", "127.0.0.1:9443", "address to serve HTTPS on")
		certFile = flag.String("tls-cert-file", "", "serving certificate (PEM)")
		keyFile  = flag.String("tls-key-file", "", "serving key (PEM)")
		apiHost  = flag.String("server", "", "kube-apiserver URL")
		caFile   = flag.String("certificate-authority", "", "CA that signed the API server's certificate")
		cliCert  = flag.String("client-certificate", "", "client certificate for the API server")
		cliKey   = flag.String("client-key", "", "client key for the API server")
	)
	flag.Parse()
	cfg := &rest.Config{Host: *apiHost, TLSClientConfig: rest.TLSClientConfig{
		CAFile: *caFile, CertFile: *cliCert, KeyFile: *cliKey}, QPS: 50, Burst: 100}
	kube := kubernetes.NewForConfigOrDie(cfg)
	security := securityv1client.NewForConfigOrDie(cfg)

	ctx := context.Background()
	kubeInformers := informers.NewSharedInformerFactory(kube, 10*time.Minute)
	sccs := sccInformer{securityv1informer.NewSecurityContextConstraintsInformer(security, 10*time.Minute, cache.Indexers{})}

	plugin := sccadmission.NewConstraint()
	plugin.SetSecurityInformers(sccs)
	plugin.SetExternalKubeInformerFactory(kubeInformers)
	plugin.SetAuthorizer(sarAuthorizer{kube})
	if err := plugin.ValidateInitialization(); err != nil {
		log.Fatalf("scc admission plugin: %v", err)
	}
	go sccs.inf.Run(ctx.Done())
	kubeInformers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), sccs.inf.HasSynced, kubeInformers.Core().V1().Namespaces().Informer().HasSynced) {
		log.Fatal("informer caches did not sync")
	}
	srv := &server{plugin: plugin, namespaces: kubeInformers.Core().V1().Namespaces().Lister(), allocated: map[int]bool{}}

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/pods/mutate", srv.handle(srv.mutatePod))
	mux.HandleFunc("/pods/validate", srv.handle(srv.validatePod))
	mux.HandleFunc("/namespaces/mutate", srv.handle(srv.mutateNamespace))
	httpServer := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	log.Printf("serving SCC admission on https://%s", *listen)
	log.Fatal(httpServer.ListenAndServeTLS(*certFile, *keyFile))
}

func (s *server) handle(fn func(context.Context, *request) *response) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in review
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&in); err != nil || in.Request == nil {
			http.Error(w, fmt.Sprintf("bad AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		resp := fn(r.Context(), in.Request)
		resp.UID = in.Request.UID
		out, _ := json.Marshal(review{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: resp})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

func deny(err error) *response {
	log.Printf("denied: %v", err)
	return &response{Allowed: false, Result: &metav1.Status{Status: metav1.StatusFailure,
		Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden, Message: err.Error()}}
}

func userInfo(u authenticationv1.UserInfo) user.Info {
	extra := map[string][]string{}
	for k, v := range u.Extra {
		extra[k] = v
	}
	return &user.DefaultInfo{Name: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra}
}

// podAttributes decodes the pod (and the old pod on UPDATE) into the internal type the plugin
// works on, as the API server's admission chain would hand it over.
func podAttributes(req *request) (admission.Attributes, *coreapi.Pod, map[string]any, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return nil, nil, nil, err
	}
	internal := &coreapi.Pod{}
	if err := corev1conv.Convert_v1_Pod_To_core_Pod(&pod, internal, nil); err != nil {
		return nil, nil, nil, err
	}
	var old runtime.Object
	if len(req.OldObject.Raw) > 0 {
		var oldPod corev1.Pod
		if err := json.Unmarshal(req.OldObject.Raw, &oldPod); err != nil {
			return nil, nil, nil, err
		}
		oldInternal := &coreapi.Pod{}
		if err := corev1conv.Convert_v1_Pod_To_core_Pod(&oldPod, oldInternal, nil); err != nil {
			return nil, nil, nil, err
		}
		old = oldInternal
	}
	var original map[string]any
	if err := json.Unmarshal(req.Object.Raw, &original); err != nil {
		return nil, nil, nil, err
	}
	name := req.Name
	if name == "" {
		name = pod.Name
	}
	attrs := admission.NewAttributesRecord(internal, old, coreapi.SchemeGroupVersion.WithKind("Pod"),
		req.Namespace, name, schema.GroupVersionResource(req.Resource), req.SubResource,
		admission.Operation(req.Operation), nil, req.DryRun != nil && *req.DryRun, userInfo(req.UserInfo))
	return attrs, internal, original, nil
}

func (s *server) mutatePod(ctx context.Context, req *request) *response {
	attrs, internal, original, err := podAttributes(req)
	if err != nil {
		return deny(fmt.Errorf("decoding pod: %w", err))
	}
	if err := s.plugin.Admit(ctx, attrs, nil); err != nil {
		return deny(err)
	}
	var admitted corev1.Pod
	if err := corev1conv.Convert_core_Pod_To_v1_Pod(internal, &admitted, nil); err != nil {
		return deny(fmt.Errorf("encoding pod: %w", err))
	}
	raw, _ := json.Marshal(&admitted)
	var changed map[string]any
	_ = json.Unmarshal(raw, &changed)
	ops := diff("", original, changed)
	resp := &response{Allowed: true}
	if len(ops) > 0 {
		patch, _ := json.Marshal(ops)
		jsonPatch := "JSONPatch"
		resp.Patch, resp.PatchType = patch, &jsonPatch
	}
	log.Printf("admitted pod %s/%s%s as %q (%d patch operations)", req.Namespace, attrs.GetName(),
		generateName(original), admitted.Annotations["openshift.io/scc"], len(ops))
	return resp
}

func (s *server) validatePod(ctx context.Context, req *request) *response {
	attrs, _, _, err := podAttributes(req)
	if err != nil {
		return deny(fmt.Errorf("decoding pod: %w", err))
	}
	if err := s.plugin.Validate(ctx, attrs, nil); err != nil {
		return deny(err)
	}
	return &response{Allowed: true}
}

func generateName(pod map[string]any) string {
	if md, ok := pod["metadata"].(map[string]any); ok {
		if g, ok := md["generateName"].(string); ok && md["name"] == nil {
			return " (generateName " + g + ")"
		}
	}
	return ""
}

// diff returns JSON Patch operations that turn `from` into `to` for what the plugin adds or changes.
// Nothing is removed: the plugin only sets fields, and a field the v1 -> internal -> v1 round trip
// happened not to carry must not be dropped from the user's pod.
func diff(path string, from, to map[string]any) []patchOp {
	var ops []patchOp
	for key, value := range to {
		p := path + "/" + escape(key)
		old, present := from[key]
		if !present {
			ops = append(ops, patchOp{Op: "add", Path: p, Value: value})
			continue
		}
		om, oldIsMap := old.(map[string]any)
		nm, newIsMap := value.(map[string]any)
		if oldIsMap && newIsMap {
			ops = append(ops, diff(p, om, nm)...)
		} else if !reflect.DeepEqual(old, value) {
			ops = append(ops, patchOp{Op: "replace", Path: p, Value: value})
		}
	}
	return ops
}

func escape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// --- namespaces: what cluster-policy-controller's namespace SCC allocation controller writes ------
const (
	uidRangeKey  = "openshift.io/sa.scc.uid-range"
	groupsKey    = "openshift.io/sa.scc.supplemental-groups"
	mcsKey       = "openshift.io/sa.scc.mcs"
	uidBase      = 1000000000
	uidBlockSize = 10000
	uidBlocks    = 100000 // 1000000000-1999999999
)

func (s *server) mutateNamespace(_ context.Context, req *request) *response {
	var ns corev1.Namespace
	if err := json.Unmarshal(req.Object.Raw, &ns); err != nil {
		return deny(fmt.Errorf("decoding namespace: %w", err))
	}
	if req.Operation != "CREATE" || ns.Annotations[uidRangeKey] != "" {
		return &response{Allowed: true}
	}
	s.nsMu.Lock()
	defer s.nsMu.Unlock()
	used := map[int]bool{}
	all, _ := s.namespaces.List(labels.Everything())
	for _, n := range all {
		if start, err := strconv.Atoi(strings.SplitN(n.Annotations[uidRangeKey], "/", 2)[0]); err == nil {
			used[(start-uidBase)/uidBlockSize] = true
		}
	}
	block := -1
	for range 1000 {
		b := rand.IntN(uidBlocks)
		if !used[b] && !s.allocated[b] {
			block = b
			break
		}
	}
	if block < 0 {
		return deny(fmt.Errorf("no free UID block for namespace %s", ns.Name))
	}
	if req.DryRun == nil || !*req.DryRun {
		s.allocated[block] = true
	}
	start := uidBase + block*uidBlockSize
	annotations := map[string]string{
		uidRangeKey: fmt.Sprintf("%d/%d", start, uidBlockSize),
		groupsKey:   fmt.Sprintf("%d/%d", start, uidBlockSize),
		mcsKey:      mcsLabel(block),
	}
	var ops []patchOp
	if ns.Annotations == nil {
		ops = []patchOp{{Op: "add", Path: "/metadata/annotations", Value: annotations}}
	} else {
		for k, v := range annotations {
			ops = append(ops, patchOp{Op: "add", Path: "/metadata/annotations/" + escape(k), Value: v})
		}
	}
	patch, _ := json.Marshal(ops)
	jsonPatch := "JSONPatch"
	log.Printf("namespace %s: uid-range %d/%d, mcs %s", ns.Name, start, uidBlockSize, annotations[mcsKey])
	return &response{Allowed: true, Patch: patch, PatchType: &jsonPatch}
}

// mcsLabel maps a block index to a category pair the way OpenShift's allocator orders them
// (s0:c1,c0, s0:c2,c0, s0:c2,c1, s0:c3,c0, ...).
func mcsLabel(block int) string {
	k := 1
	for k*(k+1)/2 <= block {
		k++
	}
	return fmt.Sprintf("s0:c%d,c%d", k, block-k*(k-1)/2)
}
