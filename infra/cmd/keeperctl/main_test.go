package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The keeperctl a vendor runs against production links production code only: none
// of the emulators and simulators the tests and `make run` use, and none of the
// modules they bring (gofakes3, local-kms and its goleveldb, the end-of-life
// aws-sdk-go v1).
//
// Both checks read the import graph the go command compiles and links, not the
// symbols left after dead-code elimination: every imported package's init runs, so
// it is in the binary even when `go tool nm` would show none of its functions (an
// import kept for one constant leaves no symbol at all).

const module = "github.com/spapi-auth-keeper/keeper"

// forbiddenModules are matched exactly: github.com/aws/aws-sdk-go is v1, while
// github.com/aws/aws-sdk-go-v2 is the SDK production code uses.
var forbiddenModules = []string{
	"github.com/johannesboyne/gofakes3",
	"github.com/nsmithuk/local-kms",
	"github.com/syndtr/goleveldb",
	"github.com/aws/aws-sdk-go",
}

// forbiddenPackages are this module's emulators, simulators, local stack and test
// support (each with its subpackages).
var forbiddenPackages = []string{
	"infra/amazonsim",
	"infra/secretsemu",
	"infra/emulators",
	"infra/localstack",
	"infra/testenv",
	"infra/kmsemu",
	"infra/eventbridgeemu",
	"infra/sesevents",
	"infra/runtimeapi",
}

// TestBinaryLinksNoEmulatorModule builds keeperctl and reads the modules its build
// information lists (`go version -m`), as a vendor inspecting the binary would.
func TestBinaryLinksNoEmulatorModule(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "keeperctl")
	run(t, "go", "build", "-o", bin, ".")
	mods := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(run(t, "go", "version", "-m", bin)))
	for sc.Scan() {
		// "\tdep\t<module>\t<version>\t<sum>" and, for a replaced module, "\t=>\t<module>...".
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && (f[0] == "dep" || f[0] == "=>") {
			mods[f[1]] = true
		}
	}
	if !mods["github.com/aws/aws-sdk-go-v2"] {
		t.Fatalf("go version -m lists no github.com/aws/aws-sdk-go-v2: the build information was not read (modules: %v)", mods)
	}
	for _, m := range forbiddenModules {
		if mods[m] {
			t.Errorf("keeperctl links %s, a module of the emulators", m)
		}
	}
}

// TestLinksNoEmulatorPackage lists the packages keeperctl is built from (`go list
// -deps`): the module's own packages are not modules, so `go version -m` cannot name
// them.
func TestLinksNoEmulatorPackage(t *testing.T) {
	t.Parallel()
	deps := strings.Fields(run(t, "go", "list", "-deps", "."))
	if !contains(deps, module+"/infra/operator") {
		t.Fatalf("go list -deps does not list the operator package: %v", deps)
	}
	for _, pkg := range deps {
		for _, bad := range forbiddenPackages {
			p := module + "/" + bad
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				t.Errorf("keeperctl links %s", pkg)
			}
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
