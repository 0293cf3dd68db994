package localstate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// A running stack also leaves the path of its repository in the user's cache folder,
// so that keeperctl --local finds it from any directory, not only inside the
// repository (the state file itself stays under the repository's .local).

// PointerPath is {user cache dir}/spapi-keeper/stack-root.
func PointerPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "spapi-keeper", "stack-root"), nil
}

// writePointer records root as the running stack's repository (best effort: a
// read-only home only means --local must be run inside the repository).
func writePointer(root string) {
	p, err := PointerPath()
	if err != nil {
		return
	}
	if os.MkdirAll(filepath.Dir(p), 0o700) == nil {
		_ = writeAtomic(p, []byte(root+"\n"))
	}
}

// removePointer deletes the pointer if it names root.
func removePointer(root string) {
	if p, err := PointerPath(); err == nil {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == root {
			_ = os.Remove(p)
		}
	}
}

// RootFrom is the repository of the stack to use from dir: the repository dir is in,
// else the one the running stack recorded.
func RootFrom(dir string) (string, error) {
	root, err := FindRoot(dir)
	if err == nil {
		return root, nil
	}
	p, perr := PointerPath()
	if perr != nil {
		return "", err
	}
	b, rerr := os.ReadFile(p)
	if rerr != nil {
		if errors.Is(rerr, os.ErrNotExist) {
			return "", fmt.Errorf("%w (and no local stack is running: start it with `make run`)", err)
		}
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
