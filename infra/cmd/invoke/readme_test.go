package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sampleFunctions is the function each file in events/ is for: the README's table
// and the invoke tests both follow it.
var sampleFunctions = map[string]string{
	"authorize-link.json": "CallbackFunction", "login-uri.json": "CallbackFunction", "callback-good.json": "CallbackFunction",
	"callback-tampered-state.json": "CallbackFunction", "callback-missing-code.json": "CallbackFunction",
	"schedule.json": "ExpiryScanFunction", "sqs-reminder.json": "ReminderFunction",
	"refresh-one.json": "TokenRefreshFunction", "sqs-refresh.json": "TokenRefreshFunction", "schedule-refresh.json": "TokenRefreshFunction",
	"schedule-credentials.json": "CredentialsFunction", "sqs-client-secret-new.json": "CredentialsFunction",
	"sqs-client-secret-expiry.json": "CredentialsFunction", "import-object-created.json": "ImporterFunction",
	"dynamodb-stream-history.json": "EventPublisherFunction", "sqs-webhook.json": "WebhookSenderFunction",
	"function-url-token.json": "TokenServiceFunction",
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeSampleEventTable: the README's table under "Invoke one function" names
// every file in events/ once, beside the function it is for.
func TestReadmeSampleEventTable(t *testing.T) {
	t.Parallel()
	readme := readRepoFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "\n## Invoke one function\n")
	if !ok {
		t.Fatal("README has no Invoke one function section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	listed := map[string]string{}
	row := regexp.MustCompile("(?m)^\\| (`[^|]+) \\| `(\\w+)` \\|")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		for _, f := range regexp.MustCompile("`([\\w.-]+\\.json)`").FindAllStringSubmatch(m[1], -1) {
			if prev, dup := listed[f[1]]; dup {
				t.Errorf("README lists %s twice (%s, %s)", f[1], prev, m[2])
			}
			listed[f[1]] = m[2]
		}
	}
	files, err := filepath.Glob("../../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		switch {
		case sampleFunctions[name] == "":
			t.Errorf("events/%s: no function in sampleFunctions", name)
		case listed[name] != sampleFunctions[name]:
			t.Errorf("README's table gives events/%s to %q, want %q", name, listed[name], sampleFunctions[name])
		}
	}
	if len(listed) != len(files) {
		t.Errorf("README's table lists %d events, events/ holds %d", len(listed), len(files))
	}
	for _, want := range []string{"10 to 35 s", "INVOKE_FLAGS=--yes", "batchItemFailures"} {
		if !strings.Contains(section, want) {
			t.Errorf("the Invoke section does not say %q", want)
		}
	}
}

// TestReadmeVersions: the README names the Go version go.mod asks for, the Node.js
// version every npm package the repository pins accepts, and the Java the Makefile
// installs.
func TestReadmeVersions(t *testing.T) {
	t.Parallel()
	readme := readRepoFile(t, "README.md")
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readRepoFile(t, "go.mod"))
	java := regexp.MustCompile(`openjdk-(\d+)-jre`).FindStringSubmatch(readRepoFile(t, "Makefile"))
	if goVersion == nil || java == nil {
		t.Fatal("go.mod has no go line, or the Makefile installs no openjdk")
	}
	var pkg struct{ Dependencies map[string]string }
	var lock struct {
		Packages map[string]struct{ Engines map[string]string }
	}
	if err := json.Unmarshal([]byte(readRepoFile(t, "infra/package.json")), &pkg); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(readRepoFile(t, "infra/package-lock.json")), &lock); err != nil {
		t.Fatal(err)
	}
	node := 0 // the highest minimum major version among the packages package.json names
	for dep := range pkg.Dependencies {
		if m := regexp.MustCompile(`>=\s*(\d+)`).FindStringSubmatch(lock.Packages["node_modules/"+dep].Engines["node"]); m != nil {
			if v, _ := strconv.Atoi(m[1]); v > node {
				node = v
			}
		}
	}
	for _, want := range []string{"Go " + goVersion[1] + " or later", "Node.js " + strconv.Itoa(node) + " or\nlater", "Java " + java[1] + " runtime"} {
		if !strings.Contains(readme, want) {
			t.Errorf("README does not say %q", want)
		}
	}
}
