// Package appnotify is the keeper's second channel inside Seller Central: each
// pre-expiry reminder stage also posts an app notification through the Selling
// Partner API for App Integrations (v2024-04-01), from the vendor's approved template
// with the expiry date and the renewal URL, so the reminder shows on the seller's
// Seller Central home page; a renewal withdraws it. It needs the app's
// "Notifications in Seller Central" role and an approved template, and is off unless
// APP_NOTIFICATIONS_TEMPLATE_ID is set.
// https://developer-docs.amazon.com/sp-api/docs/app-integrations-api-v2024-04-01-reference
package appnotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spapi-auth-keeper/keeper/shared/amazon"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Paths of the two operations on every SP-API regional endpoint.
const (
	NotificationsPath = "/appIntegrations/2024-04-01/notifications"
	DeletionPath      = "/appIntegrations/2024-04-01/notifications/deletion"
)

// Operation names, as Amazon's model calls them.
const (
	opCreate = "createNotification"
	opDelete = "deleteNotifications"
)

// Endpoints are the SP-API regional endpoints.
var Endpoints = map[authz.Region]string{
	authz.RegionNA: "https://sellingpartnerapi-na.amazon.com",
	authz.RegionEU: "https://sellingpartnerapi-eu.amazon.com",
	authz.RegionFE: "https://sellingpartnerapi-fe.amazon.com",
}

// Error kinds, classified once from Amazon's answer.
var (
	// ErrForbidden (403): the app lacks the Notifications in Seller Central role, or
	// the seller's authorization does not cover the call. The channel turns itself off.
	ErrForbidden = errors.New("App Integrations refused the call (403): the app lacks the Notifications in Seller Central role")
	// ErrRejected (400, 404, 413, 415): the request itself is wrong (template not
	// approved, parameters not the template's). Retrying cannot help.
	ErrRejected = errors.New("App Integrations rejected the notification")
	// ErrThrottled (429): over the usage plan (1 a second, burst 5).
	ErrThrottled = errors.New("App Integrations throttled the call (429)")
	// ErrUnavailable: 5xx or no answer.
	ErrUnavailable = errors.New("App Integrations unavailable")
)

// Client calls the two operations with a seller's access token, through the Amazon
// transport (shared/amazon).
type Client struct {
	HTTP     *http.Client // nil: a client with the transport's timeout
	Endpoint string       // overrides the regional endpoint (the simulator in local runs)
}

func (c *Client) url(region authz.Region, path string) (string, error) {
	base := c.Endpoint
	if base == "" {
		var ok bool
		if base, ok = Endpoints[region]; !ok {
			return "", fmt.Errorf("no SP-API endpoint for region %q", region)
		}
	}
	return strings.TrimRight(base, "/") + path, nil
}

// Notification is one createNotification request.
type Notification struct {
	TemplateID    string            `json:"templateId"`
	Parameters    map[string]string `json:"notificationParameters,omitempty"`
	MarketplaceID string            `json:"marketplaceId,omitempty"`
}

// Create posts n for the seller whose access token is given and returns Amazon's
// notification id.
func (c *Client) Create(ctx context.Context, region authz.Region, token secret.Value, n Notification) (string, error) {
	var out struct {
		NotificationID string `json:"notificationId"`
	}
	if err := c.call(ctx, region, opCreate, NotificationsPath, token, n, &out); err != nil {
		return "", err
	}
	if out.NotificationID == "" {
		return "", fmt.Errorf("%w: createNotification answered without a notificationId", ErrUnavailable)
	}
	return out.NotificationID, nil
}

// Deletion reasons Amazon accepts.
const (
	ReasonIncorrectContent   = "INCORRECT_CONTENT"
	ReasonIncorrectRecipient = "INCORRECT_RECIPIENT"
)

// Delete withdraws the app's notifications of templateID for the seller.
func (c *Client) Delete(ctx context.Context, region authz.Region, token secret.Value, templateID, reason string) error {
	return c.call(ctx, region, opDelete, DeletionPath, token, map[string]string{"templateId": templateID, "deletionReason": reason}, nil)
}

// call sends one operation, once, through the Amazon transport (the Channel decides
// about a retry), and puts its failure into the kinds above.
func (c *Client) call(ctx context.Context, region authz.Region, op, path string, token secret.Value, body, out any) error {
	u, err := c.url(region, path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	t := amazon.New(amazon.Config{HTTPClient: c.HTTP}, amazon.SendOnceDefaults)
	res, err := t.Do(ctx, amazon.Request{Op: op, Method: http.MethodPost, URL: u, Body: b,
		ContentType: "application/json", AccessToken: token.Reveal()})
	var ae *amazon.Error
	switch {
	case err == nil:
		if out != nil && len(res.Body) > 0 && json.Unmarshal(res.Body, out) != nil {
			return fmt.Errorf("%w: %s answered with something that is not JSON", ErrUnavailable, op)
		}
		return nil
	case !errors.As(err, &ae):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	// A 401 is the seller's token, not the app's role: it does not turn the channel off.
	case ae.Kind == amazon.KindForbidden && ae.Status == http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrForbidden, ae)
	case ae.Kind == amazon.KindThrottled:
		return fmt.Errorf("%w: %w", ErrThrottled, ae)
	case ae.Kind == amazon.KindUnavailable:
		return fmt.Errorf("%w: %w", ErrUnavailable, ae)
	}
	return fmt.Errorf("%w: %w", ErrRejected, ae)
}
