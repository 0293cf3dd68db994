package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

func TestValueNeverFormatsItself(t *testing.T) {
	t.Parallel()
	const raw = "Atzr|IwEBIsecret-refresh-token"
	v := secret.Value(raw)
	type holder struct {
		Token secret.Value `json:"token"`
	}
	js, err := json.Marshal(holder{Token: v})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("refresh", "token", v, "holder", holder{v})

	outputs := map[string]string{
		"%s":       fmt.Sprintf("%s", v),
		"%v":       fmt.Sprintf("%v", v),
		"%+v":      fmt.Sprintf("%+v", holder{v}),
		"%#v":      fmt.Sprintf("%#v", holder{v}),
		"%q":       fmt.Sprintf("%q", v),
		"error %w": fmt.Errorf("exchange %v: %w", v, errors.New("boom")).Error(),
		"json":     string(js),
		"slog":     logs.String(),
	}
	for name, out := range outputs {
		if strings.Contains(out, raw) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, secret.Redacted) {
			t.Errorf("%s does not show %q: %s", name, secret.Redacted, out)
		}
	}
	if v.Reveal() != raw {
		t.Fatalf("Reveal = %q, want the raw value", v.Reveal())
	}
}
