package metrics_test

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"
	"gopkg.in/yaml.v3"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
)

const metricsPkg = "github.com/spapi-auth-keeper/keeper/shared/metrics"

// emission is what the code emits of one metric: where, and the constant values of
// each dimension at those sites.
type emission struct {
	sites []string                   // file:line
	pkgs  map[string]bool            // packages that emit it
	dims  map[string]map[string]bool // dimension name → constant values seen
}

var (
	emittedOnce sync.Once
	emitted     map[string]*emission
	constsByPkg map[string]map[string]bool // package → every constant string its code uses
	emittedErrs []string
)

// emittedMetrics type-checks the deployed code (functions and shared, tests left
// out) and finds every call of Emitter.Count or Emitter.Put. The name is whatever
// constant the first argument evaluates to, so a string literal, a package's own
// constant and a constant of this package count alike; a local variable counts with
// every constant assigned to it in its function. A name the analysis cannot resolve
// is an error: the test must see every metric.
func emittedMetrics(t *testing.T) map[string]*emission {
	t.Helper()
	emittedOnce.Do(func() {
		emitted = map[string]*emission{}
		constsByPkg = map[string]map[string]bool{}
		root, err := filepath.Abs("../..")
		if err != nil {
			emittedErrs = append(emittedErrs, err.Error())
			return
		}
		cfg := &packages.Config{Mode: packages.LoadSyntax, Dir: root, Env: append(os.Environ(), "CGO_ENABLED=0")}
		pkgs, err := packages.Load(cfg, "./functions/...", "./shared/...")
		if err != nil {
			emittedErrs = append(emittedErrs, err.Error())
			return
		}
		if packages.PrintErrors(pkgs) > 0 {
			emittedErrs = append(emittedErrs, "the code does not type-check")
			return
		}
		for _, p := range pkgs {
			if p.PkgPath == metricsPkg {
				continue
			}
			consts := map[string]bool{}
			constsByPkg[p.PkgPath] = consts
			for _, f := range p.Syntax {
				scanFile(p, f, consts)
			}
		}
	})
	for _, e := range emittedErrs {
		t.Error(e)
	}
	if len(emittedErrs) > 0 {
		t.FailNow()
	}
	return emitted
}

func constString(info *types.Info, e ast.Expr) (string, bool) {
	if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		return constant.StringVal(tv.Value), true
	}
	return "", false
}

func scanFile(p *packages.Package, f *ast.File, consts map[string]bool) {
	info := p.TypesInfo
	ast.Inspect(f, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok {
			if s, ok := constString(info, e); ok {
				consts[s] = true
			}
		}
		return true
	})
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			fn, ok := info.Uses[sel.Sel].(*types.Func)
			if !ok || fn.Pkg() == nil || fn.Pkg().Path() != metricsPkg || (fn.Name() != "Count" && fn.Name() != "Put") {
				return true
			}
			if recv := fn.Type().(*types.Signature).Recv(); recv == nil || !strings.HasSuffix(recv.Type().String(), "metrics.Emitter") {
				return true
			}
			pos := p.Fset.Position(call.Pos())
			site := relPath(pos) + ":" + strconv.Itoa(pos.Line)
			names := namesOf(info, fd.Body, call.Args[0])
			if len(names) == 0 {
				emittedErrs = append(emittedErrs, site+": metric name is neither a constant nor a local variable assigned constants")
				return true
			}
			for _, name := range names {
				em := emitted[name]
				if em == nil {
					em = &emission{pkgs: map[string]bool{}, dims: map[string]map[string]bool{}}
					emitted[name] = em
				}
				em.sites = append(em.sites, site)
				em.pkgs[p.PkgPath] = true
				for _, arg := range call.Args[1:] {
					lit, ok := arg.(*ast.CompositeLit)
					if !ok {
						continue
					}
					var dim, val string
					var hasVal bool
					for _, elt := range lit.Elts {
						kv, ok := elt.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						key, _ := kv.Key.(*ast.Ident)
						switch {
						case key != nil && key.Name == "Name":
							dim, _ = constString(info, kv.Value)
						case key != nil && key.Name == "Value":
							val, hasVal = constString(info, kv.Value)
						}
					}
					if dim == "" {
						continue
					}
					if em.dims[dim] == nil {
						em.dims[dim] = map[string]bool{}
					}
					if hasVal {
						em.dims[dim][val] = true
					}
				}
			}
			return true
		})
	}
}

// namesOf is the constant value of e, or every non-empty constant assigned to the
// local variable e in body.
func namesOf(info *types.Info, body *ast.BlockStmt, e ast.Expr) []string {
	if s, ok := constString(info, e); ok {
		return []string{s}
	}
	id, ok := e.(*ast.Ident)
	if !ok {
		return nil
	}
	v, ok := info.Uses[id].(*types.Var)
	if !ok {
		return nil
	}
	var out []string
	assigned := func(lhs []ast.Expr, rhs []ast.Expr) {
		if len(lhs) != len(rhs) {
			return
		}
		for i, l := range lhs {
			lid, ok := l.(*ast.Ident)
			if !ok || info.ObjectOf(lid) != v {
				continue
			}
			if s, ok := constString(info, rhs[i]); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch s := n.(type) {
		case *ast.AssignStmt:
			assigned(s.Lhs, s.Rhs)
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(s.Names))
			for i, n := range s.Names {
				lhs[i] = n
			}
			assigned(lhs, s.Values)
		}
		return true
	})
	return out
}

func relPath(pos token.Position) string {
	root, _ := filepath.Abs("../..")
	if r, err := filepath.Rel(root, pos.Filename); err == nil {
		return r
	}
	return pos.Filename
}

// watched is what template.yaml watches in the project's namespace: each alarm's
// metric (with the dimension values it selects) and each metric the dashboard draws.
type watched struct {
	alarms    map[string][]alarmRef // metric → alarms
	dashboard map[string]bool
}

type alarmRef struct {
	alarm string
	dims  map[string]string
}

func loadWatched(t *testing.T) watched {
	t.Helper()
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := watched{alarms: map[string][]alarmRef{}, dashboard: map[string]bool{}}
	addMetric := func(alarm string, m *yaml.Node) {
		if scalar(samtemplate.Get(m, "Namespace")) != metrics.Namespace {
			return
		}
		ref := alarmRef{alarm: alarm, dims: map[string]string{}}
		if ds := samtemplate.Get(m, "Dimensions"); ds != nil {
			for _, d := range ds.Content {
				ref.dims[scalar(samtemplate.Get(d, "Name"))] = scalar(samtemplate.Get(d, "Value"))
			}
		}
		name := scalar(samtemplate.Get(m, "MetricName"))
		w.alarms[name] = append(w.alarms[name], ref)
	}
	for id, res := range tpl.Resources {
		props := samtemplate.Get(res, "Properties")
		switch scalar(samtemplate.Get(res, "Type")) {
		case "AWS::CloudWatch::Alarm":
			addMetric(id, props)
			if ms := samtemplate.Get(props, "Metrics"); ms != nil {
				for _, m := range ms.Content {
					if mm := samtemplate.Get(m, "MetricStat", "Metric"); mm != nil {
						addMetric(id, mm)
					}
				}
			}
		case "AWS::CloudWatch::Dashboard":
			body := samtemplate.Get(props, "DashboardBody")
			text := scalar(body)
			if text == "" && body != nil && body.Kind == yaml.MappingNode && len(body.Content) == 2 {
				text = scalar(body.Content[1]) // {"Fn::Sub": "..."}
			}
			for _, re := range []*regexp.Regexp{
				regexp.MustCompile(`\["` + metrics.Namespace + `",\s*"(\w+)"`),
				regexp.MustCompile(`MetricName=\\"(\w+)\\"`),
			} {
				for _, m := range re.FindAllStringSubmatch(text, -1) {
					w.dashboard[m[1]] = true
				}
			}
		}
	}
	if len(w.alarms) == 0 || len(w.dashboard) == 0 {
		t.Fatalf("found %d alarmed and %d dashboarded metrics in template.yaml: the reader lost its way", len(w.alarms), len(w.dashboard))
	}
	return w
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func catalog() map[string]metrics.Metric {
	out := map[string]metrics.Metric{}
	for _, m := range metrics.All {
		out[m.Name] = m
	}
	return out
}

// TestAlarmsNameMetricsTheCodeEmits: an alarm on a metric no code emits (or on a
// dimension value no code sets) stays quiet forever, however bad things get.
func TestAlarmsNameMetricsTheCodeEmits(t *testing.T) {
	t.Parallel()
	emitted := emittedMetrics(t)
	w := loadWatched(t)
	cat := catalog()
	for name, refs := range w.alarms {
		em := emitted[name]
		for _, ref := range refs {
			if em == nil {
				t.Errorf("%s: alarm on %s, which no code emits", ref.alarm, name)
				continue
			}
			for dim, val := range ref.dims {
				if !slices.Contains(cat[name].Alarmed[dim], val) {
					t.Errorf("%s: alarm on %s %s=%s, which metrics.All does not list among the values alarms select", ref.alarm, name, dim, val)
				}
				if _, ok := em.dims[dim]; !ok {
					t.Errorf("%s: alarm on %s by dimension %s, which no emission of it carries", ref.alarm, name, dim)
					continue
				}
				// The value is set at the call or carried in a variable (a result's
				// reason): either way it is a constant of a package that emits the metric.
				found := em.dims[dim][val]
				for pkg := range em.pkgs {
					found = found || constsByPkg[pkg][val]
				}
				if !found {
					t.Errorf("%s: alarm on %s %s=%s, a value no package emitting %s uses", ref.alarm, name, dim, val, name)
				}
			}
		}
	}
}

// TestEmittedMetricsAreWatchedOrSaidWhyNot: every metric the code emits is in
// metrics.All, and is alarmed, on the dashboard, or deliberately neither with a
// reason; and metrics.All lists nothing the code no longer emits.
func TestEmittedMetricsAreWatchedOrSaidWhyNot(t *testing.T) {
	t.Parallel()
	emitted := emittedMetrics(t)
	w := loadWatched(t)
	cat := catalog()
	var names []string
	for name := range emitted {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m, ok := cat[name]
		if !ok {
			t.Errorf("%s (emitted at %v) is not in metrics.All", name, emitted[name].sites)
			continue
		}
		watchedSomewhere := len(w.alarms[name]) > 0 || w.dashboard[name]
		switch {
		case !watchedSomewhere && m.Unwatched == "":
			t.Errorf("%s is neither alarmed nor on the dashboard: add it to one, or say why in metrics.All's Unwatched", name)
		case watchedSomewhere && m.Unwatched != "":
			t.Errorf("%s is watched by template.yaml, yet metrics.All says it is not (%q)", name, m.Unwatched)
		}
		for dim := range emitted[name].dims {
			if !slices.Contains(m.Dimensions, dim) {
				t.Errorf("%s is emitted with dimension %s, which metrics.All does not list", name, dim)
			}
		}
	}
	for name := range cat {
		if emitted[name] == nil {
			t.Errorf("metrics.All lists %s, which no code emits", name)
		}
	}
	for name := range w.dashboard {
		if emitted[name] == nil {
			t.Errorf("the dashboard draws %s, which no code emits", name)
		}
	}
}
