package localstack_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
)

// TestLocalFromAnyDirectory: keeperctl --local run outside the repository finds the
// running stack through the pointer its state write leaves in the user's cache.
func TestLocalFromAnyDirectory(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	root := t.TempDir()
	elsewhere := t.TempDir()
	if _, err := localstack.RootFrom(elsewhere); err == nil {
		t.Fatal("RootFrom found a stack before any was written")
	}
	if err := localstack.WriteState(root, localstack.State{PID: os.Getpid(), StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	got, err := localstack.RootFrom(elsewhere)
	if err != nil || got != root {
		t.Fatalf("RootFrom(elsewhere) = %q, %v; want %q", got, err, root)
	}
	if _, err := localstack.ReadState(got); err != nil {
		t.Fatal(err)
	}
	if err := localstack.RemoveState(root); err != nil {
		t.Fatal(err)
	}
	if _, err := localstack.RootFrom(elsewhere); err == nil {
		t.Error("the pointer outlived the stack")
	}
}

// TestFindRunningFromAnotherCheckout: make invoke in one checkout uses the stack a
// make run started in another (the pointer), and its own when it has one.
func TestFindRunningFromAnotherCheckout(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	here, there := t.TempDir(), t.TempDir()
	if _, _, err := localstack.FindRunning(here); !errors.Is(err, localstack.ErrNoStack) {
		t.Fatalf("FindRunning with no stack: %v", err)
	}
	if err := localstack.WriteState(there, localstack.State{PID: os.Getpid(), StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, from, err := localstack.FindRunning(here); err != nil || from != there {
		t.Fatalf("FindRunning(here) = %q, %v; want the stack of %q", from, err, there)
	}
	if err := localstack.WriteState(here, localstack.State{PID: os.Getpid(), StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, from, err := localstack.FindRunning(here); err != nil || from != here {
		t.Fatalf("FindRunning(here) = %q, %v; want its own", from, err)
	}
	for _, r := range []string{here, there} {
		if err := localstack.RemoveState(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := localstack.FindRunning(here); !errors.Is(err, localstack.ErrNoStack) {
		t.Fatalf("FindRunning after both stopped: %v", err)
	}
}
