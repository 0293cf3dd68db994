package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-client-secret", "cs", "-redirect-uri", "https://app.example/cb", "-draft",
			"-seller", "A1SELLER=Acme Goods", "-seller", "A2SELLER=Bravo",
		}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read banner: %v", err)
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("banner = %q, want listening on http://127.0.0.1:PORT", line)
	}
	go io.Copy(io.Discard, out)

	res, err := http.Get(base + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Draft   bool
		Sellers []struct{ Name string }
	}
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil || !st.Draft || len(st.Sellers) != 2 || st.Sellers[0].Name != "Acme Goods" {
		t.Fatalf("state = %+v, %v; want the flags' config", st, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v, want a clean stop", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-redirect-uri", "https://a/cb"}, "-client-secret"},
		{[]string{"-client-secret", "cs"}, "-redirect-uri"},
		{[]string{"-client-secret", "cs", "-redirect-uri", "https://a/cb", "-seller", "A1"}, "ID=Name"},
		{[]string{"-client-secret", "cs", "-redirect-uri", "https://a/cb", "-addr", "256.0.0.1:x"}, "listen"},
		{[]string{"-client-secret", "cs", "-redirect-uri", "https://a/cb", "-seller", "A1=Acme|countries=XX"}, "country code"},
		{[]string{"-client-secret", "cs", "-redirect-uri", "https://a/cb", "-seller", "A1=Acme|type=admin"}, "account type"},
		{[]string{"-client-secret", "cs", "-redirect-uri", "https://a/cb", "-seller", "A1=Acme|colour=red"}, "unknown field"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v, want an error about %s", tt.args, err, tt.want)
		}
	}
}

func TestParseSeller(t *testing.T) {
	t.Parallel()
	sl, err := parseSeller("A1VENDOR=Vendor Co|store=Vendor Store|countries=DE,FR|type=vendor")
	if err != nil {
		t.Fatal(err)
	}
	if sl.ID != "A1VENDOR" || sl.Name != "Vendor Co" || sl.StoreName != "Vendor Store" || strings.Join(sl.CountryCodes, ",") != "DE,FR" || sl.AccountType != "vendor" {
		t.Errorf("parseSeller = %+v", sl)
	}
}
