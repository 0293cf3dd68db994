// Package samtemplate reads the project's template.yaml: its functions, their build
// settings, environment variables (Globals merged) and IAM actions. Tests use it to
// keep the template honest; the local stack uses it to run each function with the
// environment AWS would give it.
package samtemplate

import (
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"
)

// Value is a template value: a plain string, or an intrinsic function (!Ref, !Sub,
// !GetAtt, !If, ...) kept unresolved with its tag.
type Value struct {
	Literal   string
	Intrinsic string // "" for a literal; else the tag or Fn:: name, e.g. "!Ref"
	Node      *yaml.Node
}

// Function is one AWS::Serverless::Function.
type Function struct {
	LogicalID   string
	CodeUri     string
	Handler     string
	Runtime     string
	BuildMethod string
	Env         map[string]Value
	Actions     []string // IAM actions of inline policy statements, sorted
	EventTypes  map[string]string
	Node        *yaml.Node
}

// Template is the parsed template.
type Template struct {
	Functions map[string]*Function
	Resources map[string]*yaml.Node
	Root      *yaml.Node
}

// Load parses path.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	root := doc.Content[0]
	t := &Template{Functions: map[string]*Function{}, Resources: map[string]*yaml.Node{}, Root: root}
	globalEnv := map[string]Value{}
	globalFn := get(root, "Globals", "Function")
	if vars := get(globalFn, "Environment", "Variables"); vars != nil {
		for k, v := range mapping(vars) {
			globalEnv[k] = value(v)
		}
	}
	for id, res := range mapping(get(root, "Resources")) {
		t.Resources[id] = res
		if scalar(get(res, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		props := get(res, "Properties")
		f := &Function{
			LogicalID:   id,
			CodeUri:     scalar(get(props, "CodeUri")),
			Handler:     or(scalar(get(props, "Handler")), scalar(get(globalFn, "Handler"))),
			Runtime:     or(scalar(get(props, "Runtime")), scalar(get(globalFn, "Runtime"))),
			BuildMethod: scalar(get(res, "Metadata", "BuildMethod")),
			Env:         map[string]Value{},
			EventTypes:  map[string]string{},
			Node:        res,
		}
		for k, v := range globalEnv {
			f.Env[k] = v
		}
		for k, v := range mapping(get(props, "Environment", "Variables")) {
			f.Env[k] = value(v)
		}
		for name, ev := range mapping(get(props, "Events")) {
			f.EventTypes[name] = scalar(get(ev, "Type"))
		}
		seen := map[string]bool{}
		if pol := get(props, "Policies"); pol != nil && pol.Kind == yaml.SequenceNode {
			for _, p := range pol.Content {
				st := get(p, "Statement")
				if st == nil {
					continue
				}
				for _, s := range st.Content {
					a := get(s, "Action")
					if a == nil {
						continue
					}
					if a.Kind == yaml.ScalarNode {
						seen[a.Value] = true
					}
					for _, x := range a.Content {
						seen[x.Value] = true
					}
				}
			}
		}
		for a := range seen {
			f.Actions = append(f.Actions, a)
		}
		sort.Strings(f.Actions)
		t.Functions[id] = f
	}
	return t, nil
}

func value(n *yaml.Node) Value {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!int" || n.Tag == "!!bool" || n.Tag == "!!float" || n.Tag == "") {
		return Value{Literal: n.Value, Node: n}
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		return Value{Intrinsic: n.Content[0].Value, Node: n}
	}
	return Value{Intrinsic: n.Tag, Node: n}
}

// get walks mapping keys.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// Get walks mapping keys from n (exported for tests and the local stack).
func Get(n *yaml.Node, keys ...string) *yaml.Node { return get(n, keys...) }

func mapping(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i+1]
	}
	return out
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
