package localstate_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
)

// TestFindFromAnyDirectory: keeperctl --local run outside the repository finds the
// running stack through the pointer its state write leaves in the user's cache, and
// finds nothing once the stack removed its state.
func TestFindFromAnyDirectory(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	root, elsewhere := t.TempDir(), t.TempDir()
	if _, err := localstate.Find(elsewhere); !errors.Is(err, localstate.ErrNoRepository) || !strings.Contains(err.Error(), "make run") {
		t.Fatalf("Find before any stack: %v; want no repository, and how to start a stack", err)
	}
	want := localstate.State{PID: os.Getpid(), StartedAt: time.Now().UTC().Truncate(time.Second),
		Env: map[string]string{localstate.EnvDynamoDB: "http://127.0.0.1:8000", "KEEPER_TABLE": "keeper-local"},
		Functions: map[string]localstate.FunctionState{localstate.TokenRefreshFunction: {Env: map[string]string{"LWA_ENDPOINT": "http://127.0.0.1:9/auth/o2/token"},
			TimeoutSeconds: 30, MemoryMB: 256}}}
	if err := localstate.WriteState(root, want); err != nil {
		t.Fatal(err)
	}
	got, err := localstate.Find(elsewhere)
	if err != nil || got.PID != want.PID || !got.StartedAt.Equal(want.StartedAt) || got.Env["KEEPER_TABLE"] != "keeper-local" ||
		got.Functions[localstate.TokenRefreshFunction].Env["LWA_ENDPOINT"] != want.Functions[localstate.TokenRefreshFunction].Env["LWA_ENDPOINT"] ||
		got.Functions[localstate.TokenRefreshFunction].MemoryMB != 256 {
		t.Fatalf("Find(elsewhere) = %+v, %v; want %+v", got, err, want)
	}
	env, err := os.ReadFile(localstate.EnvPath(root))
	if err != nil || string(env) != "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000\nKEEPER_TABLE=keeper-local\n" {
		t.Errorf("%s = %q, %v; want the stack's variables, sorted, one KEY=VALUE a line", localstate.EnvPath(root), env, err)
	}
	if err := localstate.RemoveState(root); err != nil {
		t.Fatal(err)
	}
	if _, err := localstate.Find(elsewhere); err == nil {
		t.Error("the pointer outlived the stack")
	}
	for _, p := range []string{localstate.StatePath(root), localstate.EnvPath(root)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s outlived the stack: %v", p, err)
		}
	}
}

// TestFindRootInsideRepository: inside a repository its own stack is used, whatever
// another stack recorded.
func TestFindRootInsideRepository(t *testing.T) {
	t.Parallel()
	repo := t.TempDir()
	for _, f := range []string{"go.mod", "template.yaml"} {
		if err := os.WriteFile(filepath.Join(repo, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deep := filepath.Join(repo, "infra", "operator")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := localstate.RootFrom(deep); err != nil || got != repo {
		t.Fatalf("RootFrom(%s) = %q, %v; want %q", deep, got, err, repo)
	}
}

// TestReadStateNoStack: a missing, unreadable or stale state file is a clear error,
// never a half-read stack.
func TestReadStateNoStack(t *testing.T) {
	t.Parallel()
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		noStack    bool
		want       string
	}{
		{name: "no state file", noStack: true, want: "start it with `make run`"},
		{name: "process ended", file: `{"pid":` + strconv.Itoa(ended.Process.Pid) + `}`, noStack: true, want: "which has ended"},
		{name: "no process", file: `{"pid":0}`, noStack: true, want: "which has ended"},
		{name: "not JSON", file: `{"pid":`, want: "stack.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if tc.file != "" {
				if err := os.MkdirAll(filepath.Dir(localstate.StatePath(root)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(localstate.StatePath(root), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			st, err := localstate.ReadState(root)
			if err == nil || errors.Is(err, localstate.ErrNoStack) != tc.noStack || !strings.Contains(err.Error(), tc.want) || st.PID != 0 {
				t.Errorf("ReadState = %+v, %v; want an error saying %q (no stack: %v)", st, err, tc.want, tc.noStack)
			}
		})
	}
}
