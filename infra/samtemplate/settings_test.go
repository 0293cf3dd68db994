package samtemplate_test

import (
	"fmt"
	"go/constant"
	"go/types"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/ssa"

	"github.com/spapi-auth-keeper/keeper/infra/samtemplate"
	"github.com/spapi-auth-keeper/keeper/shared/config"
)

// runtimeVariables are set by Lambda itself in every execution environment (the
// runtime's reserved variables), never by the template.
var runtimeVariables = map[string]bool{
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN": true, "AWS_LAMBDA_LOG_LEVEL": true, "AWS_LAMBDA_FUNCTION_NAME": true,
}

// OptionalSettings are variables a function's code reads that the template
// deliberately leaves unset, and why. Every other variable a function can read must
// be in its Environment (Globals included).
var OptionalSettings = map[string]string{
	"LWA_ENDPOINT":                        "stands in for Amazon's LWA token endpoint in local runs; AWS uses Amazon's (config.DefaultLWAEndpoint)",
	"SELLER_CENTRAL_URL":                  "stands in for Seller Central's consent page in local runs; AWS uses the seller's marketplace host",
	"SP_API_ENDPOINT":                     "stands in for the regional SP-API endpoints in local runs; AWS uses each region's",
	"AWS_ENDPOINT_URL":                    "the SDK's endpoint override, for the emulators in local runs",
	"AWS_ENDPOINT_URL_*":                  "the SDK's per-service endpoint overrides, for the emulators in local runs",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "the SDK's switch that turns the endpoint overrides off; unset in AWS, where there are none",
	// Tuning with the default the README's settings table gives; no parameter sets
	// them, so a deployment runs the default and an operator may set one by hand.
	"STATE_TTL":              "how long a consent round trip may take; 15m",
	"LINK_TTL":               "how long a renewal link works; 45d (DESIGN: renewal links)",
	"IMPORT_UNKNOWN_EXPIRY":  "the assumed expiry of imported rows without authorizedAt; 30d",
	"IMPORT_CONFIRM_PER_DAY": "the pacing of imports' confirmation emails; 0, none",
}

// dynamicReads are the functions allowed to read a variable whose name is not a
// constant, and the variables they read (a pattern for OptionalSettings).
var dynamicReads = map[string]string{
	"(github.com/spapi-auth-keeper/keeper/shared/awsclients.endpointsFromEnv).GetServiceBaseEndpoint": "AWS_ENDPOINT_URL_*",
}

// configLoaders are the functions of shared/config that read every variable to fill
// Config or Events: what a function's code reads is the fields it uses, not what the
// loader fills (nor Require's check of the names its caller passes).
var configLoaders = map[string]bool{"Load": true, "LoadEvents": true, "FromEnv": true, "MustLoad": true, "Require": true}

const configPkg = "github.com/spapi-auth-keeper/keeper/shared/config"

// fieldVariables maps each field of config.Config and config.Events to the variable
// that fills it, found by running the loaders: each variable the loader asks for is
// set alone to a value it accepts, and the field that changes is that variable's. So
// the map follows the loader as it is, not a copy of its table.
func fieldVariables(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	probe := func(typeName string, load func(getenv func(string) string) (any, error)) {
		var names []string
		base, _ := load(func(k string) string { names = append(names, k); return "" })
		candidates := []string{"https://probe.example", "false", "true", "7", "7h", "per-authorization", "probe"}
		for _, name := range names {
			found := false
			for _, c := range candidates {
				got, err := load(func(k string) string {
					if k == name {
						return c
					}
					return ""
				})
				if err != nil {
					continue
				}
				bv, gv := reflect.ValueOf(base), reflect.ValueOf(got)
				for i := 0; i < bv.NumField(); i++ {
					if !reflect.DeepEqual(bv.Field(i).Interface(), gv.Field(i).Interface()) {
						out[typeName+"."+bv.Type().Field(i).Name] = name
						found = true
					}
				}
				if found {
					break
				}
			}
			if !found {
				t.Errorf("%s reads %s, but no value of it changes a field", typeName, name)
			}
		}
	}
	probe("Config", func(g func(string) string) (any, error) { return config.Load(g) })
	probe("Events", func(g func(string) string) (any, error) { return config.LoadEvents(g) })
	if len(out) < 20 {
		t.Fatalf("only %d config fields mapped to variables: %v", len(out), out)
	}
	return out
}

// topLevel is the declared function a closure belongs to.
func topLevel(fn *ssa.Function) *ssa.Function {
	for fn.Parent() != nil {
		fn = fn.Parent()
	}
	return fn
}

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// readsOf is every variable the reachable code can read, each with one place that
// reads it: a field of config.Config or config.Events used outside the loaders, or a
// constant name passed to os.Getenv, os.LookupEnv or a getenv func(string) string
// (the way shared/app hands os.Getenv down). A name that is not a constant is an
// error unless dynamicReads allows it.
func readsOf(reachable map[*ssa.Function]bool, fields map[string]string) (map[string]string, []string) {
	reads := map[string]string{}
	var problems []string
	note := func(name string, fn *ssa.Function) {
		if _, ok := reads[name]; !ok {
			reads[name] = fn.String()
		}
	}
	configField := func(t types.Type, field int) (string, bool) {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		named, ok := t.(*types.Named)
		if !ok || named.Obj().Pkg() == nil || named.Obj().Pkg().Path() != configPkg {
			return "", false
		}
		st, ok := named.Underlying().(*types.Struct)
		if !ok {
			return "", false
		}
		return named.Obj().Name() + "." + st.Field(field).Name(), true
	}
	for fn := range reachable {
		if fn.Pkg == nil || !strings.HasPrefix(fn.Pkg.Pkg.Path(), module) {
			continue
		}
		top := topLevel(fn)
		if fn.Pkg.Pkg.Path() == configPkg && configLoaders[top.Name()] {
			continue
		}
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				var key string
				var isField bool
				switch in := instr.(type) {
				case *ssa.Field:
					key, isField = configField(in.X.Type(), in.Field)
				case *ssa.FieldAddr:
					key, isField = configField(in.X.Type(), in.Field)
				}
				if isField {
					if name, ok := fields[key]; ok {
						note(name, fn)
					}
					continue
				}
				call, ok := instr.(ssa.CallInstruction)
				if !ok {
					continue
				}
				c := call.Common()
				if c.IsInvoke() || len(c.Args) != 1 {
					continue
				}
				callee := c.StaticCallee()
				getenvLike := false
				switch {
				case callee != nil && callee.Pkg != nil && callee.Pkg.Pkg.Path() == "os":
					getenvLike = callee.Name() == "Getenv" || callee.Name() == "LookupEnv"
				case callee == nil:
					sig, ok := c.Value.Type().Underlying().(*types.Signature)
					getenvLike = ok && sig.Params().Len() == 1 && sig.Results().Len() == 1 &&
						types.Identical(sig.Params().At(0).Type(), types.Typ[types.String]) &&
						types.Identical(sig.Results().At(0).Type(), types.Typ[types.String])
				}
				if !getenvLike {
					continue
				}
				if k, ok := c.Args[0].(*ssa.Const); ok && k.Value != nil && k.Value.Kind() == constant.String {
					name := constant.StringVal(k.Value)
					if envName.MatchString(name) || callee != nil {
						note(name, fn)
					}
					continue
				}
				if callee == nil {
					continue // a func(string) string called with a computed string: not a getenv by its argument
				}
				if pattern, ok := dynamicReads[top.String()]; ok {
					note(pattern, fn)
					continue
				}
				problems = append(problems, fmt.Sprintf("%s reads an environment variable whose name is not a constant: list it in dynamicReads", fn))
			}
		}
	}
	return reads, problems
}

// TestFunctionsGetEverySettingTheirCodeReads is the settings contract: every
// environment variable a function's code can read is set in that function's
// Environment in template.yaml (Globals merged), is set by Lambda itself, or is in
// OptionalSettings with the reason it may stay unset. A variable the code reads and
// the template forgets turns a feature off in AWS while every local test, which sets
// it, passes.
func TestFunctionsGetEverySettingTheirCodeReads(t *testing.T) {
	root := repoRoot(t)
	used := usedActionsOnce(t, root)
	fields := fieldVariables(t)
	tpl := load(t)
	checked := 0
	for id, f := range tpl.Functions {
		u, ok := used[folderOf(id)]
		if !ok {
			continue // reported by the build test
		}
		checked++
		reads, problems := readsOf(u.reachable, fields)
		for _, p := range problems {
			t.Errorf("%s: %s", id, p)
		}
		var missing []string
		for name, where := range reads {
			if _, set := f.Env[name]; set || runtimeVariables[name] {
				continue
			}
			if _, ok := OptionalSettings[name]; ok {
				continue
			}
			missing = append(missing, fmt.Sprintf("%s (read in %s)", name, where))
		}
		sort.Strings(missing)
		for _, m := range missing {
			t.Errorf("%s: its code reads %s, which its Environment does not set", id, m)
		}
	}
	if checked == 0 {
		t.Fatal("no function checked")
	}
}

// TestFunctionSettingsAreRead is the other way round for a function's own
// Environment (Globals are shared by design): a variable the template sets for one
// function whose code never reads it is a setting that does nothing.
func TestFunctionSettingsAreRead(t *testing.T) {
	root := repoRoot(t)
	used := usedActionsOnce(t, root)
	fields := fieldVariables(t)
	tpl := load(t)
	for id, f := range tpl.Functions {
		u, ok := used[folderOf(id)]
		if !ok {
			continue
		}
		reads, _ := readsOf(u.reachable, fields)
		own := map[string]bool{}
		if vars := samtemplate.Get(f.Node, "Properties", "Environment", "Variables"); vars != nil {
			for i := 0; i+1 < len(vars.Content); i += 2 {
				own[vars.Content[i].Value] = true
			}
		}
		var unread []string
		for name := range own {
			if _, ok := reads[name]; !ok {
				unread = append(unread, name)
			}
		}
		sort.Strings(unread)
		for _, name := range unread {
			t.Errorf("%s: template.yaml sets %s, which its code never reads", id, name)
		}
	}
}
