// Command keeperctl is the operator's CLI for the authorization ledger: list, show,
// onboard, link, refresh and forget, against the local stack (--local) or a deployed
// stack (--table, --secret-prefix, --base-url, --refresh-function, with the default
// AWS credential chain). `keeperctl --help` prints the usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spapi-auth-keeper/keeper/infra/operator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cli := &operator.CLI{Stdout: os.Stdout, Stderr: os.Stderr}
	code := cli.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
