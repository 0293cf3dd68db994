package samtemplate_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

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
		// A transaction needs the action of each item kind it carries.
		"TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
		"CreateTable":        {"dynamodb:CreateTable"}, "UpdateTimeToLive": {"dynamodb:UpdateTimeToLive"},
	},
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": {
		"GetSecretValue": {"secretsmanager:GetSecretValue"}, "CreateSecret": {"secretsmanager:CreateSecret"},
		"PutSecretValue": {"secretsmanager:PutSecretValue"}, "DescribeSecret": {"secretsmanager:DescribeSecret"},
		"DeleteSecret": {"secretsmanager:DeleteSecret"}, "TagResource": {"secretsmanager:TagResource"},
		"ListSecrets": {"secretsmanager:ListSecrets"},
	},
	"github.com/aws/aws-sdk-go-v2/service/sesv2": {
		"SendEmail": {"ses:SendEmail"}, "GetAccount": {"ses:GetAccount"},
	},
	"github.com/aws/aws-sdk-go-v2/service/sqs": {
		"SendMessage": {"sqs:SendMessage"}, "SendMessageBatch": {"sqs:SendMessage"},
		"ReceiveMessage": {"sqs:ReceiveMessage"}, "DeleteMessage": {"sqs:DeleteMessage"},
		"DeleteMessageBatch": {"sqs:DeleteMessage"}, "GetQueueAttributes": {"sqs:GetQueueAttributes"},
	},
}

// implied are actions a function needs without calling them itself: Secrets Manager
// calls KMS on the caller's behalf with the stack's customer-managed key.
var implied = map[string][]string{
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": {"kms:Decrypt", "kms:GenerateDataKey"},
}

// impliedByOp are actions one operation needs besides its own: CreateSecret with Tags
// is authorized as secretsmanager:TagResource as well.
var impliedByOp = map[string][]string{
	"CreateSecret": {"secretsmanager:TagResource"},
}

// usedActions finds, in every project package a function links, the SDK operations it
// calls, and so the IAM actions it needs. Packages that only tests or other commands
// use (the store's CreateTable, say, is linked but never called by a function) are
// told apart by reachability through calls only coarsely: a call site counts when the
// file that holds it imports the service package and the function links that file.
func usedActions(t *testing.T, root, pkg string) (need, allowed map[string]bool) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{.Dir}}|{{join .GoFiles \",\"}}", pkg)
	cmd.Dir = root
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	need, allowed = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if !strings.HasPrefix(parts[0], "github.com/spapi-auth-keeper/keeper/") || strings.Contains(parts[0], "/infra/") || parts[2] == "" {
			continue
		}
		for _, name := range strings.Split(parts[2], ",") {
			fset := token.NewFileSet()
			file, err := parser.ParseFile(fset, filepath.Join(parts[1], name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			imported := map[string]string{} // local name → service path
			for _, imp := range file.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if _, ok := sdkActions[p]; ok {
					local := filepath.Base(p)
					if imp.Name != nil {
						local = imp.Name.Name
					}
					imported[local] = p
				}
			}
			for _, svc := range imported {
				for _, a := range implied[svc] {
					allowed[a] = true
				}
			}
			ast.Inspect(file, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				for _, svc := range imported {
					if acts, ok := sdkActions[svc][sel.Sel.Name]; ok && isClientCall(call) {
						if _, isCreate := map[string]bool{"CreateTable": true, "UpdateTimeToLive": true}[sel.Sel.Name]; isCreate {
							continue // schema setup: tests and the local stack only
						}
						for _, a := range impliedByOp[sel.Sel.Name] {
							need[a] = true
						}
						for i, a := range acts {
							allowed[a] = true
							if i == 0 || sel.Sel.Name != "TransactWriteItems" {
								need[a] = true
							}
						}
					}
				}
				return true
			})
		}
	}
	return need, allowed
}

// isClientCall tells an SDK call (ctx, &Input{...}, ...) from a method of ours that
// happens to share its name: SDK operations take a pointer to an input struct.
func isClientCall(call *ast.CallExpr) bool {
	if len(call.Args) < 2 {
		return false
	}
	switch a := call.Args[1].(type) {
	case *ast.UnaryExpr:
		return a.Op == token.AND
	case *ast.Ident, *ast.CallExpr, *ast.SelectorExpr:
		return true
	}
	return false
}

// TestPoliciesNameOnlyTheActionsUsed keeps least privilege honest both ways: every
// action a function's code calls is granted, and nothing else is.
func TestPoliciesNameOnlyTheActionsUsed(t *testing.T) {
	root := repoRoot(t)
	for id, f := range load(t).Functions {
		if _, err := os.Stat(filepath.Join(root, "functions", folderOf(id))); err != nil {
			continue // reported by the build test
		}
		need, allowed := usedActions(t, root, "./functions/"+folderOf(id))
		granted := map[string]bool{}
		for _, a := range f.Actions {
			granted[a] = true
			if !allowed[a] && !need[a] {
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
