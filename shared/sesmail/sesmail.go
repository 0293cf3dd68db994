// Package sesmail sends the reminder emails through SES v2: it implements
// reminder.Mailer, building SendEmail's request from a reminder.Message, and
// classifies SES's errors into the reminder's kinds, the one place that reads them.
package sesmail

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/spapi-auth-keeper/keeper/shared/reminder"
)

// API is the part of the SES v2 client the mailer uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Mailer sends through SES v2, with the configuration set that publishes the
// reminders' delivery events.
type Mailer struct {
	api              API
	configurationSet string
}

// New returns a mailer that sends with api. configurationSet is
// SES_CONFIGURATION_SET; empty sends without one.
func New(api API, configurationSet string) *Mailer {
	return &Mailer{api: api, configurationSet: configurationSet}
}

// Send sends m and returns SES's message id. Its error carries one of
// reminder.ErrThrottled, ErrRejected, ErrPaused or ErrUnavailable (Classify).
func (s *Mailer) Send(ctx context.Context, m reminder.Message) (string, error) {
	out, err := s.api.SendEmail(ctx, s.input(m))
	if err != nil {
		return "", Classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

func (s *Mailer) input(m reminder.Message) *sesv2.SendEmailInput {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			// SES encodes non-ASCII text in the given charset; without it, 7-bit ASCII.
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Html: &types.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")},
				Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")},
			},
		}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	in.EmailTags = messageTags(m.Tags) // delivery events find their reminder entry by these
	return in
}

// messageTags turns an email's tags into SES message tags, in a stable order.
func messageTags(tags map[string]string) []types.MessageTag {
	if len(tags) == 0 {
		return nil
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]types.MessageTag, 0, len(tags))
	for _, k := range names {
		out = append(out, types.MessageTag{Name: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}
