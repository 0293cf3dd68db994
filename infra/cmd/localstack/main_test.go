package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
)

// TestBadInput: a taken port, an unknown flag or a stray argument gives one clear
// line and a non-zero exit, before anything is built or started.
func TestBadInput(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		args   []string
		is     error
		stderr string
	}{
		{[]string{"-addr", taken.Addr().String()}, localstack.ErrAddrInUse, ""},
		{[]string{"-port", "8080"}, errUsage, "flag provided but not defined: -port"},
		{[]string{"now"}, errUsage, `unexpected argument "now"`},
		{[]string{"-scan-every", "often"}, errUsage, "invalid value"},
	} {
		var stdout, stderr bytes.Buffer
		start := time.Now()
		err := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr, start)
		if !errors.Is(err, tc.is) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%v: %v, stderr %q; want %v", tc.args, err, stderr.String(), tc.is)
		}
		if errors.Is(err, localstack.ErrAddrInUse) && (!strings.Contains(firstLine(err), taken.Addr().String()) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("port in use: %q, want one line naming the address", err)
		}
		if time.Since(start) > 5*time.Second || stdout.Len() != 0 {
			t.Errorf("%v: took %s and printed %q: it should stop before building", tc.args, time.Since(start), stdout.String())
		}
	}
}
