package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(map[string]string{
		"TABLE_NAME": "t", "SECRET_PREFIX": "keeper/", "APP_IS_DRAFT": "true", "BASE_URL": "https://k.example/",
		"REFRESH_INTERVAL": "12h", "LINK_TTL": "30d", "SES_MAX_PER_SECOND": "14",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretPrefix != "keeper" || !c.AppIsDraft || c.BaseURL != "https://k.example" || c.RefreshInterval != 12*time.Hour ||
		c.LinkTTL != 30*24*time.Hour || c.SESMaxPerSecond != 14 || c.LWAEndpoint != config.DefaultLWAEndpoint || c.StateTTL != 15*time.Minute {
		t.Fatalf("got %+v", c)
	}
	if c.VaultLayout != "packed" || c.VaultWritesPerSecond != 40 {
		t.Fatalf("vault defaults: layout %q, %v writes/s; want packed, 40", c.VaultLayout, c.VaultWritesPerSecond)
	}
	if err := c.Require("TABLE_NAME", "SECRET_PREFIX", "APP_ID", "SENDER_EMAIL"); err == nil || !strings.Contains(err.Error(), "APP_ID, SENDER_EMAIL") {
		t.Fatalf("Require = %v", err)
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]map[string]string{
		"bool":          {"APP_IS_DRAFT": "yes please"},
		"interval < 1h": {"REFRESH_INTERVAL": "30m"},
		"negative rate": {"SES_MAX_PER_SECOND": "-1"},
		"relative url":  {"BASE_URL": "keeper.example"},
		"bad day count": {"LINK_TTL": "xd"},
		"vault layout":  {"VAULT_LAYOUT": "sharded"},
		"vault writes":  {"VAULT_WRITES_PER_SECOND": "51"},
	} {
		if _, err := config.Load(env(m)); err == nil {
			t.Errorf("%s: accepted %v", name, m)
		}
	}
}
