package localstack

import (
	"maps"
	"os"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
)

// The state file's format and place are package localstate's, so that programs that
// only read it (keeperctl --local) link none of the stack's emulators. These names
// keep the stack's own callers as they are.

// ErrNoStack says no local stack is running (no state file, or its process is gone).
var ErrNoStack = localstate.ErrNoStack

// State is what a running stack publishes for programs in other processes: the
// operator CLI (--local) and `make invoke`. It holds endpoints and names, no secret.
type State = localstate.State

// FunctionState is how the stack runs one function.
type FunctionState = localstate.FunctionState

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
func StatePath(root string) string { return localstate.StatePath(root) }
func EnvPath(root string) string   { return localstate.EnvPath(root) }

// WriteState publishes st (localstate.WriteState): the state file, a KEY=VALUE file
// of st.Env for a shell, and the pointer that finds the stack from any directory.
func WriteState(root string, st State) error { return localstate.WriteState(root, st) }

// RemoveState deletes what WriteState wrote.
func RemoveState(root string) error { return localstate.RemoveState(root) }

// ReadState reads the state of the running stack; ErrNoStack when there is none, or
// when the process that wrote it is gone (a stack killed without its cleanup).
func ReadState(root string) (State, error) { return localstate.ReadState(root) }
