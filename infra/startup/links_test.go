package startup_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// heavy are packages no function may link, and why: each would undo what keeps the
// bootstraps small.
var heavy = map[string]string{
	// text/template (and html/template on it) looks methods up by name at run time;
	// the linker then keeps every exported method of every type that reaches an
	// interface: all of each SDK client's operations, 2.5 MB of the callback.
	"text/template": "reflection by method name keeps every exported method (shared/markup writes the pages and emails)",
	// The SDK's default credential chain: STS, SSO, SSO OIDC, sign-in and the shared
	// config parser (shared/awsclients reads Lambda's environment instead).
	"github.com/aws/aws-sdk-go-v2/config":          "the default credential chain (use shared/awsclients.FromEnv)",
	"github.com/aws/aws-sdk-go-v2/service/sts":     "the default credential chain",
	"github.com/aws/aws-sdk-go-v2/service/sso":     "the default credential chain",
	"github.com/aws/aws-sdk-go-v2/service/ssooidc": "the default credential chain",
	// Endpoint rules, ARN and access point customisations, checksums, SigV4a and XML:
	// 1.2 MB of the importer, which sends three object operations.
	"github.com/aws/aws-sdk-go-v2/service/s3": "the SDK's S3 client (use shared/s3object)",
}

// schemasWhy: from their releases of September 2026 (DynamoDB v1.69.0, Secrets Manager
// v1.50.0, SQS v1.49.0, SES v2 v1.75.0, KMS v1.61.0, EventBridge v1.49.0, DynamoDB
// Streams v1.42.0) the SDK's service clients serialize through schemas, which each
// service package builds in its init, for every shape of the API, whether or not it is
// called: DynamoDB's alone takes about 1 ms and 600 KB at every cold start, and
// together they set a floor of 1.6x hello's start-to-ready time, above the 1.5x goal.
// go.mod holds these modules at their last release before; upgrading one past it is a
// decision to re-measure (go test -bench Startup ./infra/startup) and write down.
const schemasWhy = "schema-based serialization initialises every shape of the service at each cold start (see go.mod)"

// TestFunctionsLinkNothingHeavy lists each function's imports (as the Makefile builds
// it) and fails on a package that would bring back what the bootstraps shed.
func TestFunctionsLinkNothingHeavy(t *testing.T) {
	t.Parallel()
	fns, err := os.ReadDir("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range fns {
		t.Run(fn.Name(), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "./functions/"+fn.Name())
			cmd.Dir = "../.."
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, pkg := range strings.Fields(string(out)) {
				if why, ok := heavy[pkg]; ok {
					t.Errorf("%s links %s: %s", fn.Name(), pkg, why)
				}
				if strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/") && strings.HasSuffix(pkg, "/schemas") {
					t.Errorf("%s links %s: %s", fn.Name(), pkg, schemasWhy)
				}
			}
		})
	}
}
