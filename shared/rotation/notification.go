package rotation

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Notification types of the Application Management API, delivered to the SQS queue
// registered in the Developer Console (Notification Preferences).
const (
	TypeNewSecret    = "APPLICATION_OAUTH_CLIENT_NEW_SECRET"
	TypeSecretExpiry = "APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY"
)

// Errors of ParseNotification.
var (
	ErrMalformed   = errors.New("not an SP-API notification")
	ErrUnknownType = errors.New("not a client secret notification")
)

// Notification is an Application Management notification as the SP-API notification
// envelope carries it (notificationVersion, notificationType, payloadVersion,
// eventTime, payload, notificationMetadata).
type Notification struct {
	Type           string
	PayloadVersion string
	EventTime      time.Time
	ApplicationID  string
	NotificationID string
	NewSecret      *NewSecret    // for TypeNewSecret
	SecretExpiry   *SecretExpiry // for TypeSecretExpiry
}

// NewSecret is applicationOAuthClientNewSecret.
type NewSecret struct {
	ClientID     string
	ClientSecret secret.Value
	ExpiresAt    time.Time // newClientSecretExpiryTime
	OldExpiresAt time.Time // oldClientSecretExpiryTime: LWA stops accepting the old secret then
}

// SecretExpiry is applicationOAuthClientSecretExpiry.
type SecretExpiry struct {
	ClientID  string
	ExpiresAt time.Time // clientSecretExpiryTime
	Reason    string    // clientSecretExpiryReason, e.g. PERIODIC_ROTATION
}

// envelope is the message body. newClientSecret is a plain string here, and only
// here: it becomes a secret.Value as soon as it is read.
type envelope struct {
	NotificationVersion string `json:"notificationVersion"`
	NotificationType    string `json:"notificationType"`
	PayloadVersion      string `json:"payloadVersion"`
	EventTime           string `json:"eventTime"`
	Payload             struct {
		NewSecret *struct {
			ClientID                  string `json:"clientId"`
			NewClientSecret           string `json:"newClientSecret"`
			NewClientSecretExpiryTime string `json:"newClientSecretExpiryTime"`
			OldClientSecretExpiryTime string `json:"oldClientSecretExpiryTime"`
		} `json:"applicationOAuthClientNewSecret"`
		SecretExpiry *struct {
			ClientID                 string `json:"clientId"`
			ClientSecretExpiryTime   string `json:"clientSecretExpiryTime"`
			ClientSecretExpiryReason string `json:"clientSecretExpiryReason"`
		} `json:"applicationOAuthClientSecretExpiry"`
	} `json:"payload"`
	NotificationMetadata struct {
		ApplicationID  string `json:"applicationId"`
		NotificationID string `json:"notificationId"`
	} `json:"notificationMetadata"`
}

// ParseNotification reads an SQS message body. Its errors never quote the body: it
// may hold a client secret.
func ParseNotification(body []byte) (Notification, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Notification{}, fmt.Errorf("%w: field %s has the wrong JSON type", ErrMalformed, typeErr.Field)
		}
		return Notification{}, fmt.Errorf("%w: the message is not a JSON object", ErrMalformed)
	}
	if env.NotificationType == "" {
		return Notification{}, fmt.Errorf("%w: no notificationType", ErrMalformed)
	}
	n := Notification{Type: env.NotificationType, PayloadVersion: env.PayloadVersion,
		ApplicationID: env.NotificationMetadata.ApplicationID, NotificationID: env.NotificationMetadata.NotificationID}
	n.EventTime, _ = parseTime(env.EventTime) // informational only
	switch env.NotificationType {
	case TypeNewSecret:
		p := env.Payload.NewSecret
		if p == nil {
			return n, fmt.Errorf("%w: %s without payload.applicationOAuthClientNewSecret", ErrMalformed, n.Type)
		}
		ns := &NewSecret{ClientID: p.ClientID, ClientSecret: secret.Value(p.NewClientSecret)}
		var err error
		if ns.ExpiresAt, err = parseTime(p.NewClientSecretExpiryTime); err != nil || ns.ExpiresAt.IsZero() {
			return n, fmt.Errorf("%w: %s: newClientSecretExpiryTime is not an RFC 3339 time", ErrMalformed, n.Type)
		}
		if ns.OldExpiresAt, err = parseTime(p.OldClientSecretExpiryTime); err != nil {
			return n, fmt.Errorf("%w: %s: oldClientSecretExpiryTime is not an RFC 3339 time", ErrMalformed, n.Type)
		}
		if ns.ClientID == "" || ns.ClientSecret.IsZero() {
			return n, fmt.Errorf("%w: %s needs clientId and newClientSecret", ErrMalformed, n.Type)
		}
		n.NewSecret = ns
	case TypeSecretExpiry:
		p := env.Payload.SecretExpiry
		if p == nil {
			return n, fmt.Errorf("%w: %s without payload.applicationOAuthClientSecretExpiry", ErrMalformed, n.Type)
		}
		se := &SecretExpiry{ClientID: p.ClientID, Reason: p.ClientSecretExpiryReason}
		var err error
		if se.ExpiresAt, err = parseTime(p.ClientSecretExpiryTime); err != nil || se.ExpiresAt.IsZero() {
			return n, fmt.Errorf("%w: %s: clientSecretExpiryTime is not an RFC 3339 time", ErrMalformed, n.Type)
		}
		if se.ClientID == "" {
			return n, fmt.Errorf("%w: %s needs clientId", ErrMalformed, n.Type)
		}
		n.SecretExpiry = se
	default:
		return n, fmt.Errorf("%w: %q", ErrUnknownType, truncate(env.NotificationType, 64))
	}
	return n, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
