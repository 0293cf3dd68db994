package wire

import (
	"strings"
	"testing"
	"time"
)

func TestCredentialsOptionsFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env          map[string]string
		wantErr      string
		wantBefore   time.Duration
		wantEndpoint string
	}{
		{env: map[string]string{}, wantEndpoint: "https://sellingpartnerapi-na.amazon.com"},
		{env: map[string]string{"ROTATE_BEFORE": "45d", "SP_API_REGION": "eu"}, wantBefore: 45 * 24 * time.Hour, wantEndpoint: "https://sellingpartnerapi-eu.amazon.com"},
		{env: map[string]string{"SP_API_REGION": "FE"}, wantEndpoint: "https://sellingpartnerapi-fe.amazon.com"},
		{env: map[string]string{"SP_API_ENDPOINT": "http://127.0.0.1:9999"}, wantEndpoint: "http://127.0.0.1:9999"},
		{env: map[string]string{"ROTATE_BEFORE": "180d"}, wantErr: "ROTATE_BEFORE"},
		{env: map[string]string{"ROTATE_BEFORE": "2h"}, wantErr: "ROTATE_BEFORE"},
		{env: map[string]string{"ROTATE_BEFORE": "soon"}, wantErr: "ROTATE_BEFORE"},
		{env: map[string]string{"SP_API_REGION": "moon"}, wantErr: "SP_API_REGION"},
		{env: map[string]string{"SP_API_ENDPOINT": "sellingpartnerapi-na.amazon.com"}, wantErr: "SP_API_ENDPOINT"},
	}
	for _, tc := range tests {
		o, err := OptionsFromEnv(func(k string) string { return tc.env[k] })
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case o.Rotation.RotateBefore != tc.wantBefore || o.SPAPIEndpoint != tc.wantEndpoint:
			t.Errorf("%v: rotate before %s, endpoint %s", tc.env, o.Rotation.RotateBefore, o.SPAPIEndpoint)
		}
	}
}
