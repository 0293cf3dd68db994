package sesmail_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/reminder"
	"github.com/spapi-auth-keeper/keeper/shared/sesmail"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func sample(to string) reminder.Message {
	return reminder.Message{
		From: `"Keeper Reminders" <reminders@keeper.example.com>`, To: to,
		Subject: "Action needed: renew Keeper's access — 15 Feb 2027", HTML: "<p>Renew by 15 Feb 2027 — thank you</p>", Text: "Renew by 15 Feb 2027 — thank you",
		Tags: map[string]string{"stage": "-30", "connection": "acme", "region": "eu"},
	}
}

// TestSendReachesTheInbox: the emulator accepts the email as the seller will see it,
// under the id Send returns.
func TestSendReachesTheInbox(t *testing.T) {
	t.Parallel()
	client, mail := testenv.SESv2(t)
	to := testenv.NewRecipient(t)
	m := sample(to)
	id, err := sesmail.New(client, "").Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := mail.SentTo(t, to)
	if len(got) != 1 {
		t.Fatalf("%d emails, want 1", len(got))
	}
	e := got[0]
	if e.MessageID != id || id == "" {
		t.Errorf("message id %q, Send returned %q", e.MessageID, id)
	}
	if e.From != m.From || e.Subject != m.Subject || e.HTML != m.HTML || e.Text != m.Text {
		t.Errorf("email %+v, want the message's from, subject and bodies", e)
	}
}

// TestSendRequest: what goes to SES v2 beyond the email: UTF-8 charsets, the
// configuration set only when one is set, and the tags in name order, which the
// delivery events find their reminder entry by.
func TestSendRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, set string
	}{
		{"with a configuration set", "keeper-reminders"},
		{"without", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ = io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"MessageId":"0100018c-test"}`))
			}))
			t.Cleanup(srv.Close)
			id, err := sesmail.New(sesClient(srv.URL), tt.set).Send(context.Background(), sample("seller@example.com"))
			if err != nil || id != "0100018c-test" {
				t.Fatalf("Send = %q, %v", id, err)
			}
			var in struct {
				ConfigurationSetName *string
				FromEmailAddress     string
				Destination          struct{ ToAddresses []string }
				Content              struct {
					Simple struct {
						Subject struct{ Data, Charset string }
						Body    struct {
							Html, Text struct{ Data, Charset string }
						}
					}
				}
				EmailTags []struct{ Name, Value string }
			}
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatalf("request %s: %v", body, err)
			}
			if tt.set == "" && in.ConfigurationSetName != nil || tt.set != "" && (in.ConfigurationSetName == nil || *in.ConfigurationSetName != tt.set) {
				t.Errorf("configuration set in the request: %v, want %q", in.ConfigurationSetName, tt.set)
			}
			if in.FromEmailAddress != `"Keeper Reminders" <reminders@keeper.example.com>` || !reflect.DeepEqual(in.Destination.ToAddresses, []string{"seller@example.com"}) {
				t.Errorf("from %q to %v", in.FromEmailAddress, in.Destination.ToAddresses)
			}
			s := in.Content.Simple
			for _, c := range []struct{ Data, Charset string }{s.Subject, s.Body.Html, s.Body.Text} {
				if c.Charset != "UTF-8" || c.Data == "" {
					t.Errorf("content %+v, want UTF-8", c)
				}
			}
			want := []struct{ Name, Value string }{{"connection", "acme"}, {"region", "eu"}, {"stage", "-30"}}
			if !reflect.DeepEqual(in.EmailTags, want) {
				t.Errorf("tags %+v, want %+v", in.EmailTags, want)
			}
		})
	}
}

// TestSendClassifiesTheError: a failed send comes back as the reminder's kind, with
// SES's own words kept.
func TestSendClassifiesTheError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		answer string
		want   error
	}{
		{"rate exceeded", reminder.ErrThrottled},
		{"suppressed address", reminder.ErrRejected},
		{"sending paused", reminder.ErrPaused},
		{"internal failure", reminder.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.answer, func(t *testing.T) {
			t.Parallel()
			a := recordedSESErrors[tt.answer]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("x-amzn-ErrorType", a.errorType)
				w.WriteHeader(a.status)
				_, _ = w.Write([]byte(a.body))
			}))
			t.Cleanup(srv.Close)
			id, err := sesmail.New(sesClient(srv.URL), "").Send(context.Background(), sample("seller@example.com"))
			if id != "" || !errors.Is(err, tt.want) {
				t.Fatalf("Send = %q, %v; want kind %v", id, err, tt.want)
			}
		})
	}
}
