package localstack

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
)

// ErrUnresolved says a template value has no local equivalent: the local stack must
// be taught it (an override or a resource it creates), or the function would start
// with a variable AWS would have set.
var ErrUnresolved = errors.New("no local value")

// FunctionSpec is one AWS::Serverless::Function as the local stack runs it.
type FunctionSpec struct {
	LogicalID string
	Dir       string // the main package under functions/
	Timeout   time.Duration
	Memory    int
	Routes    []Route     // HttpApi events
	Queues    []SQSSource // SQS events
	Schedules []string    // names of Schedule events
	SESEvents bool        // an EventBridgeRule on source aws.ses: SES's delivery events
	Env       map[string]samtemplate.Value
}

// Route is an HttpApi event: the front sends matching requests to the function.
type Route struct{ Method, Path string }

// SQSSource is an SQS event source mapping.
type SQSSource struct {
	Queue          string // logical id of the AWS::SQS::Queue
	BatchSize      int
	ReportFailures bool // FunctionResponseTypes: [ReportBatchItemFailures]
}

// QueueSpec is an AWS::SQS::Queue of the template.
type QueueSpec struct {
	LogicalID         string
	VisibilityTimeout int    // seconds; SQS's default 30 when unset
	DeadLetter        string // logical id of the redrive target, if any
	MaxReceiveCount   int
}

// Template is what the local stack takes from template.yaml.
type Template struct {
	Functions map[string]*FunctionSpec
	Queues    map[string]*QueueSpec
	params    map[string]string // parameter defaults
	kinds     map[string]string // resource logical id → type
}

// LoadTemplate reads path (template.yaml).
func LoadTemplate(path string) (*Template, error) {
	t, err := samtemplate.Load(path)
	if err != nil {
		return nil, fmt.Errorf("read SAM template: %w", err)
	}
	out := &Template{Functions: map[string]*FunctionSpec{}, Queues: map[string]*QueueSpec{}, params: map[string]string{}, kinds: map[string]string{}}
	if ps := samtemplate.Get(t.Root, "Parameters"); ps != nil && ps.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ps.Content); i += 2 {
			if d := samtemplate.Get(ps.Content[i+1], "Default"); d != nil && d.Kind == yaml.ScalarNode {
				out.params[ps.Content[i].Value] = d.Value
			}
		}
	}
	for id, res := range t.Resources {
		kind := scalar(samtemplate.Get(res, "Type"))
		out.kinds[id] = kind
		if kind != "AWS::SQS::Queue" {
			continue
		}
		props := samtemplate.Get(res, "Properties")
		q := &QueueSpec{LogicalID: id, VisibilityTimeout: 30}
		if v, err := strconv.Atoi(scalar(samtemplate.Get(props, "VisibilityTimeout"))); err == nil {
			q.VisibilityTimeout = v
		}
		if rp := samtemplate.Get(props, "RedrivePolicy"); rp != nil {
			q.DeadLetter = getAttTarget(samtemplate.Get(rp, "deadLetterTargetArn"))
			q.MaxReceiveCount, _ = strconv.Atoi(scalar(samtemplate.Get(rp, "maxReceiveCount")))
			if q.DeadLetter == "" || q.MaxReceiveCount <= 0 {
				return nil, fmt.Errorf("queue %s: RedrivePolicy needs deadLetterTargetArn as !GetAtt X.Arn and maxReceiveCount", id)
			}
		}
		out.Queues[id] = q
	}
	globals := samtemplate.Get(t.Root, "Globals", "Function")
	for id, fn := range t.Functions {
		props := samtemplate.Get(fn.Node, "Properties")
		spec := &FunctionSpec{LogicalID: id, Dir: FunctionDir(id), Env: fn.Env, Timeout: 3 * time.Second, Memory: 128}
		for _, n := range []*yaml.Node{samtemplate.Get(globals, "Timeout"), samtemplate.Get(props, "Timeout")} {
			if v, err := strconv.Atoi(scalar(n)); err == nil {
				spec.Timeout = time.Duration(v) * time.Second
			}
		}
		for _, n := range []*yaml.Node{samtemplate.Get(globals, "MemorySize"), samtemplate.Get(props, "MemorySize")} {
			if v, err := strconv.Atoi(scalar(n)); err == nil {
				spec.Memory = v
			}
		}
		for name, typ := range fn.EventTypes {
			ev := samtemplate.Get(props, "Events", name, "Properties")
			switch typ {
			case "HttpApi":
				spec.Routes = append(spec.Routes, Route{Method: strings.ToUpper(scalar(samtemplate.Get(ev, "Method"))), Path: scalar(samtemplate.Get(ev, "Path"))})
			case "SQS":
				src := SQSSource{Queue: getAttTarget(samtemplate.Get(ev, "Queue")), BatchSize: 10}
				if src.Queue == "" {
					return nil, fmt.Errorf("function %s, event %s: Queue must be !GetAtt <queue>.Arn", id, name)
				}
				if v, err := strconv.Atoi(scalar(samtemplate.Get(ev, "BatchSize"))); err == nil && v > 0 {
					src.BatchSize = v
				}
				if frt := samtemplate.Get(ev, "FunctionResponseTypes"); frt != nil {
					for _, n := range frt.Content {
						src.ReportFailures = src.ReportFailures || n.Value == "ReportBatchItemFailures"
					}
				}
				spec.Queues = append(spec.Queues, src)
			case "Schedule", "ScheduleV2":
				spec.Schedules = append(spec.Schedules, name)
			case "EventBridgeRule":
				if src := samtemplate.Get(ev, "Pattern", "source"); src != nil {
					for _, n := range src.Content {
						spec.SESEvents = spec.SESEvents || n.Value == "aws.ses"
					}
				}
			}
		}
		slices.SortFunc(spec.Routes, func(a, b Route) int { return strings.Compare(a.Path+a.Method, b.Path+b.Method) })
		slices.SortFunc(spec.Queues, func(a, b SQSSource) int { return strings.Compare(a.Queue, b.Queue) })
		slices.Sort(spec.Schedules)
		out.Functions[id] = spec
	}
	return out, nil
}

// FunctionDir is the main package of a function: CallbackFunction → callback, as the
// Makefile's build-<LogicalId> targets build ./functions/<dir>.
func FunctionDir(logicalID string) string {
	return strings.ToLower(strings.TrimSuffix(logicalID, "Function"))
}

// Names lists the template's functions, sorted.
func (t *Template) Names() []string {
	var names []string
	for id := range t.Functions {
		names = append(names, id)
	}
	slices.Sort(names)
	return names
}

// Bindings are the local values of a deployment: parameter values that override the
// defaults, resource references (!Ref Table → the local table's name), and whole
// variables the stack replaces whatever the template says (BASE_URL, endpoints).
type Bindings struct {
	Params    map[string]string
	Resources map[string]string
	// Overrides are of two kinds, told apart by name (StandsIn). A variable that
	// stands in for AWS or Amazon (the SDK's endpoints, credentials and region; the
	// Amazon simulator's LWA_ENDPOINT, SELLER_CENTRAL_URL, SP_API_ENDPOINT) is given to
	// every function, as Lambda and Amazon are there for every function in AWS. Any
	// other replaces the value of a variable the function's template sets, and is not
	// given to a function whose template does not set it: a function gets locally
	// only the settings it would get in AWS.
	Overrides map[string]string
}

// amazonStandIns are the variables that point a function at the Amazon simulator
// instead of Amazon: in AWS they are unset and the code uses Amazon's own endpoints.
var amazonStandIns = map[string]bool{"LWA_ENDPOINT": true, "SELLER_CENTRAL_URL": true, "SP_API_ENDPOINT": true}

// StandsIn reports whether the local stack gives variable name to every function
// whatever the template says: it stands in for what AWS (AWS_*: Lambda's reserved
// variables and the SDK's endpoint variables) or Amazon provides in a deployment.
func StandsIn(name string) bool {
	return strings.HasPrefix(name, "AWS_") || amazonStandIns[name]
}

// Environment resolves a function's variables (Globals merged with its own, as
// samtemplate reads them) against b: an override replaces the value of a variable the
// template sets, and the overrides that stand in for AWS or Amazon are added. A value
// the stack cannot resolve is an error naming the variable, so a new template
// variable is never silently left out of local runs.
func (t *Template) Environment(fn string, b Bindings) (map[string]string, error) {
	spec, ok := t.Functions[fn]
	if !ok {
		return nil, fmt.Errorf("function %s is not in the template", fn)
	}
	env := map[string]string{}
	var errs []error
	for name, v := range spec.Env {
		if o, ok := b.Overrides[name]; ok {
			env[name] = o
			continue
		}
		val, err := t.resolve(v, b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", fn, name, err))
			continue
		}
		env[name] = val
	}
	for k, v := range b.Overrides {
		if StandsIn(k) {
			env[k] = v
		}
	}
	return env, errors.Join(errs...)
}

func (t *Template) resolve(v samtemplate.Value, b Bindings) (string, error) {
	if v.Intrinsic == "" {
		return v.Literal, nil
	}
	var ref string
	switch {
	case v.Intrinsic == "!Ref" && v.Node.Kind == yaml.ScalarNode:
		ref = v.Node.Value
	case v.Intrinsic == "Ref" && v.Node.Kind == yaml.MappingNode:
		ref = scalar(v.Node.Content[1])
	default:
		return "", fmt.Errorf("%s %w: give the local stack an override for it", v.Intrinsic, ErrUnresolved)
	}
	if p, ok := b.Params[ref]; ok {
		return p, nil
	}
	if r, ok := b.Resources[ref]; ok {
		return r, nil
	}
	if _, isParam := t.params[ref]; isParam {
		return t.params[ref], nil
	}
	kind := t.kinds[ref]
	if kind == "" {
		kind = "parameter without default"
	}
	return "", fmt.Errorf("!Ref %s (%s) %w", ref, kind, ErrUnresolved)
}

// getAttTarget reads "!GetAtt X.Arn" or {"Fn::GetAtt": [X, Arn]} and returns X.
func getAttTarget(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!GetAtt":
		x, attr, _ := strings.Cut(n.Value, ".")
		if attr == "Arn" {
			return x
		}
	case n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "Fn::GetAtt":
		if l := n.Content[1]; l.Kind == yaml.SequenceNode && len(l.Content) == 2 && l.Content[1].Value == "Arn" {
			return l.Content[0].Value
		}
	}
	return ""
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
