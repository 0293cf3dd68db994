package localstack

import "github.com/spapi-auth-keeper/keeper/infra/localstate"

// A running stack also leaves the path of its repository in the user's cache folder,
// so that keeperctl --local finds it from any directory, not only inside the
// repository (the state file itself stays under the repository's .local).

// PointerPath is {user cache dir}/spapi-keeper/stack-root.
func PointerPath() (string, error) { return localstate.PointerPath() }

// RootFrom is the repository of the stack to use from dir: the repository dir is in,
// else the one the running stack recorded.
func RootFrom(dir string) (string, error) { return localstate.RootFrom(dir) }
