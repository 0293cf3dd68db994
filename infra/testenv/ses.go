package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
)

// SESv2 returns the production SES v2 client pointed at aws-ses-v2-local, and the
// emulator's store of the mail it accepted. The emulator is shared: each test sends to
// its own recipients (NewRecipient) and reads its mail with SentTo.
func SESv2(t testing.TB) (*sesv2.Client, *SESStore) {
	t.Helper()
	url := endpoint(t, emulators.EnvSES)
	client := sesv2.NewFromConfig(Config(), func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = fastRetryer()
	})
	return client, &SESStore{baseURL: url, http: &http.Client{Timeout: 10 * time.Second}}
}

// NewRecipient returns an email address no other test uses.
func NewRecipient(t testing.TB) string {
	t.Helper()
	return Prefix(t) + "@example.com"
}

// Email is one message aws-ses-v2-local accepted, as its GET /store shows it.
type Email struct {
	MessageID string
	From      string
	ReplyTo   []string
	To        []string
	CC        []string
	BCC       []string
	Subject   string
	HTML      string
	Text      string
	At        time.Time // second precision
}

// SESStore reads the mail aws-ses-v2-local has accepted.
type SESStore struct {
	baseURL string
	http    *http.Client
}

// Emails returns every message the emulator holds, oldest first.
func (s *SESStore) Emails(ctx context.Context) ([]Email, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.baseURL+"/store", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read SES emulator store: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read SES emulator store: HTTP %d", resp.StatusCode)
	}
	var body struct {
		Emails []struct {
			MessageID   string   `json:"messageId"`
			From        string   `json:"from"`
			ReplyTo     []string `json:"replyTo"`
			Destination struct {
				To  []string `json:"to"`
				CC  []string `json:"cc"`
				BCC []string `json:"bcc"`
			} `json:"destination"`
			Subject string `json:"subject"`
			Body    struct {
				HTML string `json:"html"`
				Text string `json:"text"`
			} `json:"body"`
			At int64 `json:"at"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decode SES emulator store: %w", err)
	}
	emails := make([]Email, 0, len(body.Emails))
	for _, e := range body.Emails {
		emails = append(emails, Email{
			MessageID: e.MessageID, From: e.From, ReplyTo: e.ReplyTo,
			To: e.Destination.To, CC: e.Destination.CC, BCC: e.Destination.BCC,
			Subject: e.Subject, HTML: e.Body.HTML, Text: e.Body.Text, At: time.Unix(e.At, 0).UTC(),
		})
	}
	return emails, nil
}

// To returns the messages addressed to recipient (To, CC or BCC; the address compared
// without its display name and case-insensitively), oldest first.
func (s *SESStore) To(ctx context.Context, recipient string) ([]Email, error) {
	all, err := s.Emails(ctx)
	if err != nil {
		return nil, err
	}
	want := bareAddress(recipient)
	var out []Email
	for _, e := range all {
		if e.addressedTo(want) {
			out = append(out, e)
		}
	}
	return out, nil
}

// SentTo is To for tests: it fails the test if the store cannot be read.
func (s *SESStore) SentTo(t testing.TB, recipient string) []Email {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	emails, err := s.To(ctx, recipient)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return emails
}

func (e Email) addressedTo(addr string) bool {
	for _, list := range [][]string{e.To, e.CC, e.BCC} {
		for _, a := range list {
			if bareAddress(a) == addr {
				return true
			}
		}
	}
	return false
}

func bareAddress(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		s = a.Address
	}
	return strings.ToLower(strings.TrimSpace(s))
}
