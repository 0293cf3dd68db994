package amazonsim

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Notification types of the Application Management API, delivered to the SQS queue
// the vendor registers in the Developer Console (Notification Preferences →
// "Application Client New Secret" and "Application Client Secret Expiry" rows).
const (
	NotificationNewSecret    = "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
	NotificationSecretExpiry = "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY"
	// NotificationVersion and PayloadVersion are what Amazon's messages carry.
	NotificationVersion = "1.0"
	PayloadVersion      = "2023-11-30"
)

// Notification is an SP-API notification as it arrives on an SQS queue, the
// envelope of Amazon's LWA rotation sample (selling-partner-api-samples,
// use-cases/lwa-rotation): notificationVersion, notificationType, payloadVersion,
// eventTime, payload, notificationMetadata.
type Notification struct {
	NotificationVersion  string               `json:"notificationVersion"`
	NotificationType     string               `json:"notificationType"`
	PayloadVersion       string               `json:"payloadVersion"`
	EventTime            Time                 `json:"eventTime"`
	Payload              Payload              `json:"payload"`
	NotificationMetadata NotificationMetadata `json:"notificationMetadata"`
}

// Payload holds one of the two payloads, named as Amazon names them.
type Payload struct {
	NewSecret    *NewSecretPayload    `json:"applicationOAuthClientNewSecret,omitempty"`
	SecretExpiry *SecretExpiryPayload `json:"applicationOAuthClientSecretExpiry,omitempty"`
}

// NewSecretPayload is applicationOAuthClientNewSecret.
type NewSecretPayload struct {
	ClientID                  string `json:"clientId"`
	NewClientSecret           string `json:"newClientSecret"`
	NewClientSecretExpiryTime Time   `json:"newClientSecretExpiryTime"`
	OldClientSecretExpiryTime Time   `json:"oldClientSecretExpiryTime"`
}

// SecretExpiryPayload is applicationOAuthClientSecretExpiry.
type SecretExpiryPayload struct {
	ClientID                 string `json:"clientId"`
	ClientSecretExpiryTime   Time   `json:"clientSecretExpiryTime"`
	ClientSecretExpiryReason string `json:"clientSecretExpiryReason"`
}

// NotificationMetadata identifies the application, the subscription and the message.
type NotificationMetadata struct {
	ApplicationID  string `json:"applicationId"`
	SubscriptionID string `json:"subscriptionId"`
	PublishTime    Time   `json:"publishTime"`
	NotificationID string `json:"notificationId"`
}

// Time is a UTC timestamp with milliseconds, as Amazon writes them
// ("2024-01-10T22:09:17.456Z").
type Time time.Time

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the time as Amazon does.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(timeLayout))
}

// UnmarshalJSON reads RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = Time(v)
	return nil
}

// Marshal encodes the notification as the SQS message body.
func (n Notification) Marshal() string {
	b, _ := json.Marshal(n) // strings and times: cannot fail
	return string(b)
}

// NotificationSender puts a message on a queue (the SQS client).
type NotificationSender interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

type destination struct {
	sender   NotificationSender
	queueURL string
	subID    string
}

// SetNotificationDestination registers the SQS queue both Application Management
// notifications go to, as the vendor does in the Developer Console. Until one is
// registered, rotateApplicationClientSecret answers 400 InvalidInput, as Amazon does.
func (s *Sim) SetNotificationDestination(sender NotificationSender, queueURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sender == nil || queueURL == "" {
		s.apps.dest = nil
		return
	}
	s.apps.dest = &destination{sender: sender, queueURL: queueURL, subID: requestID()}
}

func (s *Sim) notificationLocked(kind string, now time.Time, p Payload) Notification {
	sub := ""
	if s.apps.dest != nil {
		sub = s.apps.dest.subID
	}
	return Notification{
		NotificationVersion: NotificationVersion, NotificationType: kind, PayloadVersion: PayloadVersion,
		EventTime: Time(now), Payload: p,
		NotificationMetadata: NotificationMetadata{ApplicationID: s.cfg.AppID, SubscriptionID: sub,
			PublishTime: Time(now.Add(time.Second)), NotificationID: requestID()},
	}
}

// deliver puts n on the registered queue. It logs the type, never the payload: the
// new secret travels only inside the message.
func (s *Sim) deliver(ctx context.Context, d *destination, n Notification) error {
	_, err := d.sender.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(d.queueURL), MessageBody: aws.String(n.Marshal())})
	s.mu.Lock()
	if err != nil {
		s.apps.failedSends++
	} else {
		s.apps.sent++
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Error("notification not delivered", "notificationType", n.NotificationType, "error", err)
		return fmt.Errorf("deliver %s: %w", n.NotificationType, err)
	}
	s.log.Info("notification delivered", "notificationType", n.NotificationType, "notificationId", n.NotificationMetadata.NotificationID)
	return nil
}
