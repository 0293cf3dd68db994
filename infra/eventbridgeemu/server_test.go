package eventbridgeemu_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/spapi-auth-keeper/keeper/infra/eventbridgeemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
)

func client(t *testing.T, emu *eventbridgeemu.Server) *eventbridge.Client {
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return eventbridge.NewFromConfig(testenv.Config(), func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

func entry(bus, detailType, detail string) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String("spapi-keeper"), DetailType: aws.String(detailType),
		Detail: aws.String(detail), Time: aws.Time(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))}
}

func TestRulesDeliverMatchingEventsToTheirTargets(t *testing.T) {
	t.Parallel()
	var delivered []string
	emu := eventbridgeemu.New(func(_ context.Context, arn string, ev []byte) error {
		delivered = append(delivered, arn+" "+string(ev))
		return nil
	})
	c := client(t, emu)
	ctx := context.Background()
	_, err := c.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("keeper")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("pause"), EventBusName: aws.String("keeper"),
		EventPattern: aws.String(`{"source":["spapi-keeper"],"detail-type":["Authorization Revoked","Authorization Restored"],"detail":{"region":[{"prefix":"e"}]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("pause"), EventBusName: aws.String("keeper"),
		Targets: []types.Target{{Id: aws.String("q"), Arn: aws.String("arn:aws:sqs:us-east-1:000000000000:orders")}}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		entry("keeper", "Authorization Revoked", `{"connectionId":"a","region":"eu"}`),
		entry("arn:aws:events:us-east-1:000000000000:event-bus/keeper", "Authorization Restored", `{"connectionId":"b","region":"eu"}`),
		entry("keeper", "Authorization Revoked", `{"connectionId":"c","region":"na"}`),
		entry("keeper", "Authorization Renewed", `{"connectionId":"d","region":"eu"}`),
		entry("nope", "Authorization Revoked", `{}`),
		entry("keeper", "Authorization Revoked", `not json`),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 2 || aws.ToString(out.Entries[4].ErrorCode) != "ResourceNotFoundException" || aws.ToString(out.Entries[5].ErrorCode) != "MalformedDetail" {
		t.Errorf("entries %+v", out.Entries)
	}
	if len(delivered) != 2 || !strings.Contains(delivered[0], `"connectionId":"a"`) || !strings.Contains(delivered[1], `"connectionId":"b"`) ||
		!strings.Contains(delivered[0], `"detail-type":"Authorization Revoked"`) || !strings.Contains(delivered[0], `"time":"2026-03-01T10:00:00Z"`) {
		t.Errorf("delivered %v", delivered)
	}
	if len(emu.Events()) != 4 {
		t.Errorf("%d events accepted, want 4", len(emu.Events()))
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	c := client(t, eventbridgeemu.New(nil))
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"more than ten entries", func() error {
			entries := make([]types.PutEventsRequestEntry, 11)
			for i := range entries {
				entries[i] = entry("default", "x", "{}")
			}
			_, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
			return err
		}, "ValidationException"},
		{"a pattern that is not JSON", func() error {
			_, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String("{nope")})
			return err
		}, "InvalidEventPatternException"},
		{"a field that is not a list", func() error {
			_, err := c.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":"x"}`)})
			return err
		}, "InvalidEventPatternException"},
		{"targets of a missing rule", func() error {
			_, err := c.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("none"), Targets: []types.Target{{Id: aws.String("a"), Arn: aws.String("x")}}})
			return err
		}, "ResourceNotFoundException"},
	}
	for _, tt := range tests {
		var api smithy.APIError
		if err := tt.call(); !errors.As(err, &api) || api.ErrorCode() != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	ev := eventbridgeemu.Envelope{Source: "spapi-keeper", DetailType: "Authorization Revoked", Detail: []byte(`{"region":"eu","tags":["a","b"],"n":5}`)}
	tests := []struct {
		pattern string
		want    bool
	}{
		{``, true},
		{`{"source":["spapi-keeper"]}`, true},
		{`{"source":["other"]}`, false},
		{`{"detail":{"region":["na","eu"]}}`, true},
		{`{"detail":{"tags":["b"]}}`, true},
		{`{"detail":{"n":[5]}}`, true},
		{`{"detail":{"region":[{"anything-but":["eu"]}]}}`, false},
		{`{"detail":{"missing":[{"exists":false}]}}`, true},
		{`{"detail":{"region":[{"exists":false}]}}`, false},
		{`{"detail-type":[{"suffix":"Revoked"}]}`, true},
		{`{"detail-type":[{"equals-ignore-case":"authorization revoked"}]}`, true},
	}
	for _, tt := range tests {
		p, err := eventbridgeemu.ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := p.Match(ev); got != tt.want {
			t.Errorf("%s matched %v, want %v", tt.pattern, got, tt.want)
		}
	}
}
