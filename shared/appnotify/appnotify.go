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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
)

// Paths of the two operations on every SP-API regional endpoint.
const (
	NotificationsPath = "/appIntegrations/2024-04-01/notifications"
	DeletionPath      = "/appIntegrations/2024-04-01/notifications/deletion"
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

// Client calls the two operations with a seller's access token.
type Client struct {
	HTTP     *http.Client
	Endpoint string // overrides the regional endpoint (the simulator in local runs)
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
	if err := c.call(ctx, region, NotificationsPath, token, n, &out); err != nil {
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
	return c.call(ctx, region, DeletionPath, token, map[string]string{"templateId": templateID, "deletionReason": reason}, nil)
}

func (c *Client) call(ctx context.Context, region authz.Region, path string, token secret.Value, body, out any) error {
	u, err := c.url(region, path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-amz-access-token", token.Reveal())
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%w: answer is not JSON: %v", ErrUnavailable, err)
			}
		}
		return nil
	}
	var errs struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	_ = json.Unmarshal(data, &errs)
	detail := http.StatusText(resp.StatusCode)
	if len(errs.Errors) > 0 {
		detail = errs.Errors[0].Code + ": " + errs.Errors[0].Message
	}
	if len(detail) > 200 {
		detail = detail[:200]
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w: %s", ErrForbidden, detail)
	case resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s", ErrThrottled, detail)
	case resp.StatusCode >= 500:
		return fmt.Errorf("%w: HTTP %d %s", ErrUnavailable, resp.StatusCode, detail)
	}
	return fmt.Errorf("%w: HTTP %d %s", ErrRejected, resp.StatusCode, detail)
}
