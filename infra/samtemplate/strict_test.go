package samtemplate_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// strictYAML decodes a document the way a strict YAML loader does: yaml.v3 refuses a
// mapping key defined twice when it decodes into a map (decoding into a yaml.Node, as
// samtemplate.Load does, keeps both and lets the last one win in lookups).
func strictYAML(raw []byte) error {
	var doc map[string]any
	return yaml.Unmarshal(raw, &doc)
}

// TestTemplateHasNoDuplicateKeys: YAML forbids a mapping key twice. Some tools refuse
// such a file (cfn-lint, strict loaders), others keep the last definition silently,
// so a resource defined twice deploys whichever copy a tool happens to keep.
func TestTemplateHasNoDuplicateKeys(t *testing.T) {
	t.Parallel()
	// The loader itself must refuse what the template must not contain.
	for name, doc := range map[string]string{
		"resource twice":   "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n",
		"null then filled": "Resources:\n  A:\n  B: {Type: X}\n  A:\n    Type: Y\n",
		"property twice":   "Resources:\n  A:\n    Properties:\n      Name: !Ref N\n      Name: !Sub x\n",
	} {
		if err := strictYAML([]byte(doc)); err == nil || !strings.Contains(err.Error(), "already defined") {
			t.Errorf("%s: strict loader accepted a duplicate key (err %v)", name, err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := strictYAML(raw); err != nil {
		t.Fatalf("template.yaml is not strict YAML: %v", err)
	}
}

// TestTemplateCommentsNameCapabilities: the template's comments say what a resource
// is for, not which piece of planned work brought it.
func TestTemplateCommentsNameCapabilities(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(raw), "\n") {
		_, comment, ok := strings.Cut(line, "#")
		if !ok {
			continue
		}
		c := strings.ToLower(comment)
		for _, word := range []string{"issue ", "issue)", "wave", "work item", "ticket"} {
			if strings.Contains(c, word) {
				t.Errorf("template.yaml:%d: comment names planned work (%q), not a capability: %s", i+1, word, strings.TrimSpace(line))
			}
		}
	}
}
