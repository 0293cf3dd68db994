package localstack

import (
	"github.com/spapi-auth-keeper/keeper/infra/localstate"

	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoRepository says the repository root (go.mod beside template.yaml) was not found.
var ErrNoRepository = localstate.ErrNoRepository

// FindRoot walks up from dir to the folder that holds go.mod and template.yaml.
func FindRoot(dir string) (string, error) { return localstate.FindRoot(dir) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// BinaryPath is where Build puts a function's bootstrap.
func BinaryPath(binDir, logicalID string) string {
	return filepath.Join(binDir, FunctionDir(logicalID), "bootstrap")
}

// Build compiles the named functions' main packages for this machine into
// binDir/<dir>/bootstrap: the flags of the Makefile's Lambda build (-tags lambda.norpc,
// -trimpath, no cgo) for the native OS and architecture instead of linux/arm64, so the
// local Lambda runtime runs the same code that `sam build` ships. One go build
// compiles them all, sharing the work.
func Build(ctx context.Context, root, binDir string, functions []string) error {
	if len(functions) == 0 {
		return nil
	}
	tmp := filepath.Join(binDir, ".build")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("build functions: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("build functions: %w", err)
	}
	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", tmp + string(filepath.Separator)}
	for _, fn := range functions {
		pkg := "./functions/" + FunctionDir(fn)
		if !fileExists(filepath.Join(root, "functions", FunctionDir(fn), "main.go")) {
			return fmt.Errorf("build %s: no main package in %s", fn, pkg)
		}
		args = append(args, pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build functions: %w\n%s", err, strings.TrimSpace(out.String()))
	}
	for _, fn := range functions {
		dst := BinaryPath(binDir, fn)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("build %s: %w", fn, err)
		}
		if err := os.Rename(filepath.Join(tmp, FunctionDir(fn)), dst); err != nil {
			return fmt.Errorf("build %s: %w", fn, err)
		}
	}
	return os.RemoveAll(tmp)
}
