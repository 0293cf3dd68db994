package localstack

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

// ErrNoStack says no local stack is running (no state file, or its process is gone).
var ErrNoStack = errors.New("no local stack is running")

// State is what a running stack publishes for programs in other processes: the
// operator CLI (--local) and `make invoke`. It holds endpoints and names, no secret.
type State struct {
	PID       int                      `json:"pid"`
	StartedAt time.Time                `json:"startedAt"`
	Env       map[string]string        `json:"env"`
	Functions map[string]FunctionState `json:"functions"`
}

// FunctionState is how the stack runs one function.
type FunctionState struct {
	Env            map[string]string `json:"env"`
	TimeoutSeconds int               `json:"timeoutSeconds"`
	MemoryMB       int               `json:"memoryMB"`
}

// State describes this stack, run by the current process.
func (s *Stack) State() State {
	st := State{PID: os.Getpid(), StartedAt: s.start.UTC(), Env: s.Env(), Functions: map[string]FunctionState{}}
	for id, f := range s.functions {
		st.Functions[id] = FunctionState{Env: maps.Clone(f.env), TimeoutSeconds: int(f.spec.Timeout / time.Second), MemoryMB: f.spec.Memory}
	}
	return st
}

// StatePath and EnvPath are where `make run` publishes its state, under the
// repository's .local folder.
func StatePath(root string) string { return filepath.Join(root, ".local", "stack.json") }
func EnvPath(root string) string   { return filepath.Join(root, ".local", "stack.env") }

// WriteState publishes st at StatePath(root) and, as KEY=VALUE lines a shell can
// source (for the AWS CLI), st.Env at EnvPath(root). Each file appears whole or not
// at all.
func WriteState(root string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stack state: %w", err)
	}
	if err := writeAtomic(StatePath(root), b); err != nil {
		return err
	}
	writePointer(root) // pointer.go: keeperctl --local from any directory
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
