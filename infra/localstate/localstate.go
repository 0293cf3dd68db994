// Package localstate is the state file of the local stack: `make run` writes it, and
// programs in other processes (keeperctl --local, `make invoke`) read it to find the
// stack's endpoints, names and functions. It holds no emulator, so the keeperctl a
// vendor runs against AWS links none.
package localstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Error kinds of ReadState and FindRoot.
var (
	// ErrNoStack says no local stack is running (no state file, or its process is gone).
	ErrNoStack = errors.New("no local stack is running")
	// ErrNoRepository says the repository root (go.mod beside template.yaml) was not found.
	ErrNoRepository = errors.New("repository root not found")
)

// State is what a running stack publishes for programs in other processes. It holds
// endpoints and names, no secret.
type State struct {
	PID       int                      `json:"pid"`
	StartedAt time.Time                `json:"startedAt"`
	Env       map[string]string        `json:"env"`
	Functions map[string]FunctionState `json:"functions"` // by the template's logical id
}

// FunctionState is how the stack runs one function.
type FunctionState struct {
	Env            map[string]string `json:"env"`
	TimeoutSeconds int               `json:"timeoutSeconds"`
	MemoryMB       int               `json:"memoryMB"`
}

// Keys of State.Env besides the KEEPER_* names keeperctl takes as flags: the SDK's own
// per-service endpoint variables, which the stack also gives every function.
const (
	EnvDynamoDB       = "AWS_ENDPOINT_URL_DYNAMODB"
	EnvSecretsManager = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
	EnvKMS            = "AWS_ENDPOINT_URL_KMS"
	EnvLambda         = "AWS_ENDPOINT_URL_LAMBDA"
)

// TokenRefreshFunction is the logical id under which State.Functions holds the token
// refresh function (its LWA endpoint and refresh budget).
const TokenRefreshFunction = "TokenRefreshFunction"

// StatePath and EnvPath are where `make run` publishes its state, under the
// repository's .local folder.
func StatePath(root string) string { return filepath.Join(root, ".local", "stack.json") }
func EnvPath(root string) string   { return filepath.Join(root, ".local", "stack.env") }

// WriteState publishes st at StatePath(root) and, as KEY=VALUE lines a shell can
// source (for the AWS CLI), st.Env at EnvPath(root). Each file appears whole or not
// at all. It also records root in the user's cache folder (PointerPath), so that the
// stack is found from any directory.
func WriteState(root string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stack state: %w", err)
	}
	if err := writeAtomic(StatePath(root), b); err != nil {
		return err
	}
	writePointer(root)
	var env strings.Builder
	for _, k := range slices.Sorted(maps.Keys(st.Env)) {
		fmt.Fprintf(&env, "%s=%s\n", k, st.Env[k])
	}
	return writeAtomic(EnvPath(root), []byte(env.String()))
}

// RemoveState deletes what WriteState wrote.
func RemoveState(root string) error {
	removePointer(root)
	var errs []error
	for _, p := range []string{StatePath(root), EnvPath(root)} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReadState reads the state of the running stack; ErrNoStack when there is none, or
// when the process that wrote it is gone (a stack killed without its cleanup).
func ReadState(root string) (State, error) {
	b, err := os.ReadFile(StatePath(root))
	if os.IsNotExist(err) {
		return State{}, fmt.Errorf("%w (start it with `make run`)", ErrNoStack)
	}
	if err != nil {
		return State{}, fmt.Errorf("read stack state: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("read stack state %s: %w", StatePath(root), err)
	}
	if st.PID <= 0 || syscall.Kill(st.PID, 0) != nil {
		return State{}, fmt.Errorf("%w: %s names process %d, which has ended (start it with `make run`)", ErrNoStack, StatePath(root), st.PID)
	}
	return st, nil
}

// Find reads the state of the stack to use from dir: the one of the repository dir is
// in, else the one the running stack recorded (RootFrom).
func Find(dir string) (State, error) {
	root, err := RootFrom(dir)
	if err != nil {
		return State{}, err
	}
	return ReadState(root)
}

// FindRoot walks up from dir to the folder that holds go.mod and template.yaml.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "template.yaml")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w above %s: run from inside the repository", ErrNoRepository, dir)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
