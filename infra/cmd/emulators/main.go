// Command emulators runs the third-party AWS emulators (DynamoDB Local, aws-ses-v2-local,
// fauxqs for SQS) for a test run or the local stack:
//
//	go run ./infra/cmd/emulators -env-file .local/emulators.env
//
// Once every emulator answers, it writes the env file: the SDK's endpoint variables
// (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SESV2, AWS_ENDPOINT_URL_SQS) and static
// test credentials, one KEY=VALUE a line, so a script can wait for the file and source
// it. It stops the emulators and removes the file on SIGINT or SIGTERM, and exits
// non-zero if an emulator fails to start or dies.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "emulators:", firstLine(err))
		os.Exit(1)
	}
}

// run starts the emulators, publishes the env file and holds them until ctx ends.
func run(ctx context.Context, args []string, log io.Writer) (err error) {
	fs := flag.NewFlagSet("emulators", flag.ContinueOnError)
	fs.SetOutput(log)
	envFile := fs.String("env-file", "", "write KEY=VALUE lines here once every emulator answers (required)")
	infra := fs.String("infra", "", "folder holding package.json and node_modules (default: infra/ of the enclosing Go module)")
	var opts emulators.Options
	fs.BoolVar(&opts.DynamoDB, "dynamodb", true, "start DynamoDB Local")
	fs.BoolVar(&opts.SES, "ses", true, "start aws-ses-v2-local")
	fs.BoolVar(&opts.SQS, "sqs", true, "start the SQS emulator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *envFile == "" {
		return fmt.Errorf("-env-file is required")
	}
	opts.InfraDir, opts.Log = *infra, log

	// A file left by an earlier run would tell a waiting script that stale ports are up.
	if err := os.Remove(*envFile); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove old env file: %w", err)
	}
	set, err := emulators.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := set.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
		if rmErr := os.Remove(*envFile); rmErr != nil && !os.IsNotExist(rmErr) && err == nil {
			err = fmt.Errorf("remove env file: %w", rmErr)
		}
	}()
	if err := writeEnvFile(*envFile, set.Endpoints()); err != nil {
		return err
	}
	fmt.Fprintf(log, "emulators: ready, environment in %s\n", *envFile)
	select {
	case <-ctx.Done():
		fmt.Fprintln(log, "emulators: stopping")
		return nil
	case err := <-set.Exited():
		return err
	}
}

// writeEnvFile writes the file whole or not at all (a temporary file renamed into
// place), so a script polling for it never reads half of it.
func writeEnvFile(path string, endpoints map[string]string) error {
	vars := map[string]string{
		"AWS_REGION":            "us-east-1",
		"AWS_ACCESS_KEY_ID":     "test",
		"AWS_SECRET_ACCESS_KEY": "test",
	}
	maps.Copy(vars, endpoints)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "%s=%s\n", k, vars[k])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("env file folder: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".emulators-env-*")
	if err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("write env file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	return nil
}

// firstLine keeps the failure to one line: the emulator's own output, which the
// error quotes after its first line, has already gone to the log.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSuffix(s, "; last output:")
}
