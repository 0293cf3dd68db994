package samtemplate_test

import (
	"fmt"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func load(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Functions) == 0 {
		t.Fatal("template.yaml defines no function")
	}
	return tpl
}

// folderOf maps a function's logical id to its folder under functions/:
// CallbackFunction → callback, TokenRefreshFunction → tokenrefresh.
func folderOf(logicalID string) string {
	return strings.ToLower(strings.TrimSuffix(logicalID, "Function"))
}

// TestFunctionsBuildAsSAMWouldBuildThem checks that every function in template.yaml
// has a main package, a Makefile target SAM's makefile build method calls, and builds
// for Lambda's arm64 provided.al2023 runtime the way that target builds it.
func TestFunctionsBuildAsSAMWouldBuildThem(t *testing.T) {
	root := repoRoot(t)
	tpl := load(t)
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var pkgs []string
	for id, f := range tpl.Functions {
		if f.CodeUri != "." || f.BuildMethod != "makefile" || f.Handler != "bootstrap" || f.Runtime != "provided.al2023" {
			t.Errorf("%s: CodeUri %q BuildMethod %q Handler %q Runtime %q; want ., makefile, bootstrap, provided.al2023", id, f.CodeUri, f.BuildMethod, f.Handler, f.Runtime)
		}
		if !regexp.MustCompile(`(?m)^build-` + id + `:`).Match(makefile) {
			t.Errorf("%s: Makefile has no build-%s target for sam build", id, id)
		}
		dir := filepath.Join(root, "functions", folderOf(id))
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		pkgs = append(pkgs, "./functions/"+folderOf(id))
	}
	sort.Strings(pkgs)
	cmd := exec.Command("go", append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", out + "/"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v for linux/arm64: %v\n%s", pkgs, err, b)
	}
}

// sdkActions maps an SDK operation to the IAM actions it needs, per service package.
var sdkActions = map[string]map[string][]string{
	"github.com/aws/aws-sdk-go-v2/service/dynamodb": {
		"GetItem": {"dynamodb:GetItem"}, "PutItem": {"dynamodb:PutItem"}, "UpdateItem": {"dynamodb:UpdateItem"},
		"DeleteItem": {"dynamodb:DeleteItem"}, "Query": {"dynamodb:Query"}, "Scan": {"dynamodb:Scan"},
		"BatchWriteItem": {"dynamodb:BatchWriteItem"}, "BatchGetItem": {"dynamodb:BatchGetItem"},
		// A transaction needs the action of each item kind it carries: txItemActions,
		// from the TransactWriteItem fields the code fills in.
		"TransactWriteItems": {},
		"CreateTable":        {"dynamodb:CreateTable"}, "UpdateTimeToLive": {"dynamodb:UpdateTimeToLive"},
	},
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": {
		"GetSecretValue": {"secretsmanager:GetSecretValue"}, "CreateSecret": {"secretsmanager:CreateSecret"},
		"PutSecretValue": {"secretsmanager:PutSecretValue"}, "DescribeSecret": {"secretsmanager:DescribeSecret"},
		"DeleteSecret": {"secretsmanager:DeleteSecret"}, "TagResource": {"secretsmanager:TagResource"},
		"ListSecrets": {"secretsmanager:ListSecrets"}, "RestoreSecret": {"secretsmanager:RestoreSecret"},
		"UpdateSecretVersionStage": {"secretsmanager:UpdateSecretVersionStage"},
	},
	"github.com/aws/aws-sdk-go-v2/service/sesv2": {
		"SendEmail": {"ses:SendEmail"}, "GetAccount": {"ses:GetAccount"},
	},
	"github.com/aws/aws-sdk-go-v2/service/s3": {
		"GetObject": {"s3:GetObject"}, "DeleteObject": {"s3:DeleteObject"}, "PutObject": {"s3:PutObject"},
	},
	"github.com/aws/aws-sdk-go-v2/service/kms": {
		"Encrypt": {"kms:Encrypt"}, "Decrypt": {"kms:Decrypt"},
	},
	"github.com/aws/aws-sdk-go-v2/service/sqs": {
		"SendMessage": {"sqs:SendMessage"}, "SendMessageBatch": {"sqs:SendMessage"},
		"ReceiveMessage": {"sqs:ReceiveMessage"}, "DeleteMessage": {"sqs:DeleteMessage"},
		"DeleteMessageBatch": {"sqs:DeleteMessage"}, "GetQueueAttributes": {"sqs:GetQueueAttributes"},
		"ChangeMessageVisibility": {"sqs:ChangeMessageVisibility"},
	},
	"github.com/aws/aws-sdk-go-v2/service/eventbridge": {
		"PutEvents": {"events:PutEvents"},
	},
}

// clientOps is the operation map of an SDK service package.
func clientOps(pkg string) map[string][]string {
	return sdkActions[pkg]
}

// impliedByOp are actions one operation needs besides its own. Secrets Manager calls
// KMS on the caller's behalf with the stack's customer-managed key (Decrypt to read,
// GenerateDataKey to write), and CreateSecret with Tags is also authorized as
// secretsmanager:TagResource.
var impliedByOp = map[string][]string{
	"GetSecretValue": {"kms:Decrypt"},
	"PutSecretValue": {"kms:GenerateDataKey", "kms:Decrypt"},
	"CreateSecret":   {"kms:GenerateDataKey", "kms:Decrypt", "secretsmanager:TagResource"},
	// Objects of an SSE-KMS bucket: S3 decrypts with the caller's kms:Decrypt and
	// encrypts with its kms:GenerateDataKey.
	"GetObject": {"kms:Decrypt"},
	"PutObject": {"kms:GenerateDataKey"},
}

const module = "github.com/spapi-auth-keeper/keeper/"

// txItemType is the element of TransactWriteItems' TransactItems; txItemActions maps
// each of its fields to the action DynamoDB authorizes that item kind with.
const txItemType = "github.com/aws/aws-sdk-go-v2/service/dynamodb/types.TransactWriteItem"

var txItemActions = map[string]string{
	"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
}

// txItemField returns the TransactWriteItem field a FieldAddr instruction writes
// through, or "".
func txItemField(fa *ssa.FieldAddr) string {
	ptr, ok := fa.X.Type().Underlying().(*types.Pointer)
	if !ok {
		return ""
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Pkg() == nil || named.Obj().Pkg().Path()+"."+named.Obj().Name() != txItemType {
		return ""
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return ""
	}
	for _, ref := range *fa.Referrers() {
		if store, ok := ref.(*ssa.Store); ok && store.Addr == fa {
			return st.Field(fa.Field).Name()
		}
	}
	return ""
}

// used is what one function's code reaches: each IAM action, and the functions of
// ours that call an operation needing it (for conditions that rely on who calls).
type used struct {
	actions map[string]bool
	callers map[string]map[string]bool // action → caller function names
	clients map[string]bool            // SDK service packages whose client the code calls
	// reachable is every function the main reaches (settings_test.go reads which
	// environment variables they can read).
	reachable map[*ssa.Function]bool
}

var (
	usedOnce   sync.Once
	usedByFunc map[string]used
	usedErr    string
)

// usedActionsOnce runs the whole-program analysis once for every test that needs it.
func usedActionsOnce(t *testing.T, root string) map[string]used {
	t.Helper()
	usedOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				usedErr = fmt.Sprint(r)
			}
		}()
		usedByFunc = usedActions(&onceT{t}, root)
	})
	if usedErr != "" {
		t.Fatal(usedErr)
	}
	return usedByFunc
}

// onceT turns a fatal error inside the shared analysis into a panic that every test
// using it reports, not only the first.
type onceT struct{ *testing.T }

func (o *onceT) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// clientService maps an SDK service's client type to its package.
func clientService(recv string) (string, bool) {
	svc, ok := strings.CutSuffix(strings.TrimPrefix(recv, "*"), ".Client")
	if ok && clientOps(svc) != nil {
		return svc, true
	}
	return "", false
}

// usedActions builds each function's whole program (SSA) as Lambda's build would
// compile it, and finds by rapid type analysis which SDK client operations are
// reachable from its main: calls through our own interfaces (queue.API, say) count
// for the concrete client they are given, and code a function links but never calls
// (the store's CreateTable, the vault's Delete) does not.
func usedActions(t interface {
	Helper()
	Fatal(...any)
}, root string) map[string]used {
	t.Helper()
	cfg := &packages.Config{
		// Syntax (and so SSA bodies) for our own packages only; the SDK and the standard
		// library come as types from export data. SDK calls are recognised at our call
		// sites, and handlers that third-party code calls back (lambda.Start's handler,
		// the ServeMux's routes) are roots as function values, so no SDK body is needed.
		Mode:       packages.LoadSyntax,
		Dir:        root,
		Env:        append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"),
		BuildFlags: []string{"-tags=lambda.norpc"},
	}
	pkgs, err := packages.Load(cfg, "./functions/...", "./shared/...")
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		t.Fatal("functions do not type-check")
	}
	prog, ssaPkgs := ssautil.Packages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	clientTypes := map[string]types.Type{}
	for _, p := range prog.AllPackages() {
		if clientOps(p.Pkg.Path()) != nil {
			if obj := p.Pkg.Scope().Lookup("Client"); obj != nil {
				clientTypes[p.Pkg.Path()] = types.NewPointer(obj.Type())
			}
		}
	}
	chaGraph := cha.CallGraph(prog)
	out := map[string]used{}
	for _, p := range ssaPkgs {
		if p == nil || p.Pkg.Name() != "main" {
			continue
		}
		var roots []*ssa.Function
		for _, name := range []string{"main", "init"} {
			if f := p.Func(name); f != nil {
				roots = append(roots, f)
			}
		}
		// VTA refines the class hierarchy call graph by the types that actually flow to
		// each call site (unlike RTA it does not assume reflection calls every method);
		// run on what one main reaches, twice, as the vta package advises.
		// lambda.Start calls the handler by reflection, which no call graph follows:
		// every function our reachable code takes as a value counts as called.
		var reachable map[*ssa.Function]bool
		for {
			reachable = reach(chaGraph, roots)
			cg := chaGraph
			for i := 0; i < 2; i++ {
				cg = vta.CallGraph(reachable, cg)
				reachable = reach(cg, roots)
			}
			more := funcValues(prog, reachable, roots)
			if len(more) == 0 {
				break
			}
			roots = append(roots, more...)
		}
		need := map[string]bool{}
		clients := map[string]bool{}
		callers := map[string]map[string]bool{}
		txKinds := map[string]map[string]bool{} // action → functions that fill that item kind
		transacts := false
		var caller *ssa.Function
		note := func(a string, fn *ssa.Function) {
			need[a] = true
			if callers[a] == nil {
				callers[a] = map[string]bool{}
			}
			callers[a][fn.String()] = true
		}
		record := func(svc, op string) {
			clients[svc] = true
			if op == "TransactWriteItems" {
				transacts = true
			}
			for _, a := range clientOps(svc)[op] {
				note(a, caller)
			}
			for _, a := range impliedByOp[op] {
				note(a, caller)
			}
		}
		// Only call sites in our own reachable code count: the SDK's own code (its
		// paginators and waiters) is reached through them, and RTA would otherwise
		// count every method of a client that reflection could see.
		for fn := range reachable {
			if fn.Pkg == nil || !strings.HasPrefix(fn.Pkg.Pkg.Path(), module) {
				continue
			}
			caller = fn
			for _, b := range fn.Blocks {
				for _, instr := range b.Instrs {
					if fa, ok := instr.(*ssa.FieldAddr); ok {
						if a := txItemActions[txItemField(fa)]; a != "" {
							if txKinds[a] == nil {
								txKinds[a] = map[string]bool{}
							}
							txKinds[a][fn.String()] = true
						}
						continue
					}
					call, ok := instr.(ssa.CallInstruction)
					if !ok {
						continue
					}
					c := call.Common()
					if callee := c.StaticCallee(); callee != nil {
						if callee.Signature.Recv() != nil {
							if svc, ok := clientService(callee.Signature.Recv().Type().String()); ok {
								record(svc, callee.Name())
							}
						} else if callee.Pkg != nil {
							// dynamodb.NewQueryPaginator(client, …): the paginator calls Query.
							if _, ok := sdkActions[callee.Pkg.Pkg.Path()]; ok {
								if op, ok := strings.CutSuffix(strings.TrimPrefix(callee.Name(), "New"), "Paginator"); ok {
									record(callee.Pkg.Pkg.Path(), op)
								}
							}
						}
						continue
					}
					if c.IsInvoke() {
						// A call through an interface of ours: it reaches every SDK client
						// that satisfies the interface.
						iface, _ := c.Value.Type().Underlying().(*types.Interface)
						for svc, ct := range clientTypes {
							if iface != nil && types.Implements(ct, iface) {
								record(svc, c.Method.Name())
							}
						}
					}
				}
			}
		}
		// The item kinds count only where a transaction is sent at all.
		if transacts {
			for a, fns := range txKinds {
				for fn := range fns {
					need[a] = true
					if callers[a] == nil {
						callers[a] = map[string]bool{}
					}
					callers[a][fn] = true
				}
			}
		}
		out[filepath.Base(p.Pkg.Path())] = used{actions: need, callers: callers, clients: clients, reachable: reachable}
	}
	return out
}

// funcValues are the functions (and bound methods) that reachable code uses as values
// rather than calls, and that are not roots yet.
func funcValues(prog *ssa.Program, reachable map[*ssa.Function]bool, roots []*ssa.Function) []*ssa.Function {
	isRoot := map[*ssa.Function]bool{}
	for _, r := range roots {
		isRoot[r] = true
	}
	var out []*ssa.Function
	add := func(v ssa.Value) {
		if f, ok := v.(*ssa.Function); ok && !isRoot[f] && !reachable[f] {
			isRoot[f] = true
			out = append(out, f)
		}
	}
	for fn := range reachable {
		if fn.Pkg == nil || !strings.HasPrefix(fn.Pkg.Pkg.Path(), module) {
			continue
		}
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				if mc, ok := instr.(*ssa.MakeClosure); ok {
					add(mc.Fn)
					continue
				}
				if call, ok := instr.(ssa.CallInstruction); ok {
					c := call.Common()
					external := c.StaticCallee() == nil || c.StaticCallee().Blocks == nil
					for _, a := range c.Args { // the callee itself is called, not a value
						add(a)
						// A value handed as an interface to code we have no body for
						// (lambda.Start's handler) may have any of its methods called.
						if mi, ok := a.(*ssa.MakeInterface); ok && external {
							mset := prog.MethodSets.MethodSet(mi.X.Type())
							for i := 0; i < mset.Len(); i++ {
								if f := prog.MethodValue(mset.At(i)); f != nil {
									add(f)
								}
							}
						}
					}
					continue
				}
				for _, op := range instr.Operands(nil) {
					if op != nil {
						add(*op)
					}
				}
			}
		}
	}
	return out
}

// reach is every function the call graph reaches from roots.
func reach(cg *callgraph.Graph, roots []*ssa.Function) map[*ssa.Function]bool {
	seen := map[*ssa.Function]bool{}
	var stack []*callgraph.Node
	for _, r := range roots {
		if n := cg.Nodes[r]; n != nil {
			stack = append(stack, n)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n.Func] {
			continue
		}
		seen[n.Func] = true
		for _, e := range n.Out {
			if !seen[e.Callee.Func] {
				stack = append(stack, e.Callee)
			}
		}
	}
	return seen
}

// TestPoliciesNameOnlyTheActionsUsed keeps least privilege honest both ways: every
// action a function's code calls is granted, and nothing else is: a transaction's
// item kinds count only where the code builds them.
func TestPoliciesNameOnlyTheActionsUsed(t *testing.T) {
	root := repoRoot(t)
	used := usedActionsOnce(t, root)
	for id, f := range load(t).Functions {
		u, ok := used[folderOf(id)]
		if !ok {
			continue // reported by the build test
		}
		need := u.actions
		granted := map[string]bool{}
		for _, a := range f.Actions {
			granted[a] = true
			if !need[a] {
				t.Errorf("%s: template grants %s, which its code never calls", id, a)
			}
		}
		for a := range need {
			if !granted[a] {
				t.Errorf("%s: code calls %s, which the template does not grant", id, a)
			}
		}
	}
}
