package samtemplate_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// clientOf maps the client a main builds (an awsclients service, or an SDK package
// whose NewFromConfig it calls) to the IAM prefix of its actions.
var clientOf = map[string]string{"DynamoDB": "dynamodb", "SecretsManager": "secretsmanager", "sesv2": "ses", "sqs": "sqs", "kms": "kms"}

// TestMainsBuildTheClientsTheirCodeCalls: each function's main names the SDK clients
// it builds (awsclients.Service, or <service>.NewFromConfig for the clients only some
// functions use); a client its code calls but main does not build is nil at the first
// event, and one it builds but never calls costs every cold start.
func TestMainsBuildTheClientsTheirCodeCalls(t *testing.T) {
	root := repoRoot(t)
	used := usedActionsOnce(t, root)
	named := regexp.MustCompile(`awsclients\.(DynamoDB|SecretsManager)\b|\b(sesv2|sqs|kms)\.NewFromConfig\b`)
	for fn, need := range used {
		src, err := os.ReadFile(filepath.Join(root, "functions", fn, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		built := map[string]bool{}
		for _, m := range named.FindAllStringSubmatch(string(src), -1) {
			built[clientOf[m[1]+m[2]]] = true
		}
		called := map[string]bool{}
		for svc := range need.clients {
			name := strings.TrimPrefix(svc, "github.com/aws/aws-sdk-go-v2/service/")
			for client, p := range clientOf {
				if strings.EqualFold(client, name) {
					called[p] = true
				}
			}
		}
		if got, want := keys(built), keys(called); got != want {
			t.Errorf("functions/%s/main.go builds clients %s; its code calls %s", fn, got, want)
		}
	}
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}
