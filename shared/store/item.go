package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// timeLayout sorts as the times do: history sort keys and the times stored beside
// them are written the same way.
const timeLayout = tablekeys.TimeLayout

// historyTTL is how long history items live before DynamoDB's TTL removes them.
const historyTTLYears = 2

// The item kinds' keys are built in tablekeys; these take the domain's types.
func connPK(connectionID string) string { return tablekeys.ConnPK(connectionID) }
func authSK(region authz.Region) string { return tablekeys.AuthSK(string(region)) }
func eventSK(at time.Time, k authz.EventKind) string {
	return tablekeys.EventSK(at, string(k))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("attribute %s: %w", field, err)
	}
	return t.UTC(), nil
}

// authItem is an authorization as stored. Optional strings are left out when empty:
// expiryDay and sellingPartnerId are GSI keys, and DynamoDB refuses an empty string
// as a key, so a pending record simply is not in by-expiry or by-seller.
type authItem struct {
	PK               string                  `dynamodbav:"pk"`
	SK               string                  `dynamodbav:"sk"`
	ConnectionID     string                  `dynamodbav:"connectionId"`
	Region           string                  `dynamodbav:"region"`
	AccountType      string                  `dynamodbav:"accountType,omitempty"`
	Marketplace      string                  `dynamodbav:"marketplace,omitempty"`
	SellingPartnerID string                  `dynamodbav:"sellingPartnerId,omitempty"`
	ContactEmail     string                  `dynamodbav:"contactEmail,omitempty"`
	Locale           string                  `dynamodbav:"locale,omitempty"`
	Status           string                  `dynamodbav:"status"`
	AuthorizedAt     string                  `dynamodbav:"authorizedAt,omitempty"`
	ExpiresAt        string                  `dynamodbav:"expiresAt,omitempty"`
	ExpiryDay        string                  `dynamodbav:"expiryDay,omitempty"`
	RemindersSent    map[string]reminderItem `dynamodbav:"remindersSent"` // always a map, so "remindersSent.#stage" paths resolve
	LastRefreshAt    string                  `dynamodbav:"lastRefreshAt,omitempty"`
	LastRefreshError string                  `dynamodbav:"lastRefreshError,omitempty"`
	RefreshFailures  int                     `dynamodbav:"refreshFailures"`
	RefreshSlot      int                     `dynamodbav:"refreshSlot"`
	SecretID         string                  `dynamodbav:"secretId,omitempty"`
	Version          int64                   `dynamodbav:"version"`
	Account          *accountItem            `dynamodbav:"account,omitempty"`
	LinkGeneration   int                     `dynamodbav:"linkGeneration,omitempty"`
	ExpiryKnown      *bool                   `dynamodbav:"expiryKnown,omitempty"` // absent = known
	ContactStatus    string                  `dynamodbav:"contactStatus,omitempty"`
	DisplayName      string                  `dynamodbav:"displayName,omitempty"`
}

// accountItem is the account fingerprint SP-API answered (never a token).
type accountItem struct {
	StoreName        string   `dynamodbav:"storeName,omitempty"`
	MarketplaceIDs   []string `dynamodbav:"marketplaceIds,omitempty,stringset"`
	SellerID         string   `dynamodbav:"sellerId,omitempty"`
	SellerIDVerified bool     `dynamodbav:"sellerIdVerified,omitempty"`
	TakenAt          string   `dynamodbav:"takenAt,omitempty"`
}

type reminderItem struct {
	ClaimedAt string `dynamodbav:"claimedAt,omitempty"`
	SentAt    string `dynamodbav:"sentAt,omitempty"`
	MessageID string `dynamodbav:"messageId,omitempty"`
	Error     string `dynamodbav:"error,omitempty"`
	// What SES's events and the funnel recorded later (see delivery.go).
	AcceptedAt   string `dynamodbav:"acceptedAt,omitempty"`
	DeliveredAt  string `dynamodbav:"deliveredAt,omitempty"`
	BouncedAt    string `dynamodbav:"bouncedAt,omitempty"`
	SoftBounceAt string `dynamodbav:"softBounceAt,omitempty"`
	ComplainedAt string `dynamodbav:"complainedAt,omitempty"`
	DelayedAt    string `dynamodbav:"delayedAt,omitempty"`
	FailedAt     string `dynamodbav:"failedAt,omitempty"`
	OpenedAt     string `dynamodbav:"openedAt,omitempty"`
	Detail       string `dynamodbav:"deliveryDetail,omitempty"`
	AppNoteID    string `dynamodbav:"appNotificationId,omitempty"`
	AppNoteError string `dynamodbav:"appNotificationError,omitempty"`
}

func toAuthItem(a authz.Authorization) authItem {
	it := authItem{
		PK:               connPK(a.ConnectionID),
		SK:               authSK(a.Region),
		ConnectionID:     a.ConnectionID,
		Region:           string(a.Region),
		AccountType:      string(a.AccountType),
		Marketplace:      a.Marketplace,
		SellingPartnerID: a.SellingPartnerID,
		ContactEmail:     a.ContactEmail,
		Locale:           a.Locale,
		Status:           string(a.Status),
		AuthorizedAt:     formatTime(a.AuthorizedAt),
		ExpiresAt:        formatTime(a.ExpiresAt),
		ExpiryDay:        a.ExpiryDay(),
		RemindersSent:    make(map[string]reminderItem, len(a.Reminders)),
		LastRefreshAt:    formatTime(a.LastRefreshAt),
		LastRefreshError: a.LastRefreshError,
		RefreshFailures:  a.RefreshFailures,
		RefreshSlot:      a.RefreshSlot,
		SecretID:         a.SecretID,
		Version:          a.Version,
		LinkGeneration:   a.LinkGeneration,
		ContactStatus:    string(a.ContactStatus),
		DisplayName:      a.DisplayName,
	}
	if a.ExpiryUnknown {
		known := false
		it.ExpiryKnown = &known
	}
	if !a.Account.IsZero() {
		it.Account = &accountItem{
			StoreName: a.Account.StoreName, MarketplaceIDs: a.Account.MarketplaceIDs,
			SellerID: a.Account.SellerID, SellerIDVerified: a.Account.SellerIDVerified, TakenAt: formatTime(a.Account.TakenAt),
		}
	}
	for stage, m := range a.Reminders {
		it.RemindersSent[stage] = reminderItem{
			ClaimedAt: formatTime(m.ClaimedAt),
			SentAt:    formatTime(m.SentAt),
			MessageID: m.MessageID,
			Error:     m.Error,
		}.withDelivery(m.Delivery)
	}
	return it
}

func (it authItem) authorization() (authz.Authorization, error) {
	a := authz.Authorization{
		ConnectionID:     it.ConnectionID,
		Region:           authz.Region(it.Region),
		AccountType:      authz.AccountType(it.AccountType),
		Marketplace:      it.Marketplace,
		SellingPartnerID: it.SellingPartnerID,
		ContactEmail:     it.ContactEmail,
		Locale:           it.Locale,
		Status:           authz.Status(it.Status),
		LastRefreshError: it.LastRefreshError,
		RefreshFailures:  it.RefreshFailures,
		RefreshSlot:      it.RefreshSlot,
		SecretID:         it.SecretID,
		Version:          it.Version,
		LinkGeneration:   it.LinkGeneration,
		ExpiryUnknown:    it.ExpiryKnown != nil && !*it.ExpiryKnown,
		ContactStatus:    authz.ContactStatus(it.ContactStatus),
		DisplayName:      it.DisplayName,
	}
	var err error
	if it.Account != nil {
		a.Account = authz.Account{StoreName: it.Account.StoreName, MarketplaceIDs: it.Account.MarketplaceIDs,
			SellerID: it.Account.SellerID, SellerIDVerified: it.Account.SellerIDVerified}
		if a.Account.TakenAt, err = parseTime("account.takenAt", it.Account.TakenAt); err != nil {
			return a, err
		}
	}
	if a.AuthorizedAt, err = parseTime("authorizedAt", it.AuthorizedAt); err != nil {
		return a, err
	}
	if a.ExpiresAt, err = parseTime("expiresAt", it.ExpiresAt); err != nil {
		return a, err
	}
	if a.LastRefreshAt, err = parseTime("lastRefreshAt", it.LastRefreshAt); err != nil {
		return a, err
	}
	if len(it.RemindersSent) > 0 {
		a.Reminders = make(map[string]authz.ReminderMark, len(it.RemindersSent))
	}
	for stage, r := range it.RemindersSent {
		m := authz.ReminderMark{MessageID: r.MessageID, Error: r.Error}
		if m.ClaimedAt, err = parseTime("remindersSent."+stage+".claimedAt", r.ClaimedAt); err != nil {
			return a, err
		}
		if m.SentAt, err = parseTime("remindersSent."+stage+".sentAt", r.SentAt); err != nil {
			return a, err
		}
		if m.Delivery, err = r.delivery(stage); err != nil {
			return a, err
		}
		a.Reminders[stage] = m
	}
	return a, nil
}

func decodeAuth(av map[string]types.AttributeValue) (authz.Authorization, error) {
	var it authItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return authz.Authorization{}, fmt.Errorf("decode authorization item: %w", err)
	}
	if !strings.HasPrefix(it.SK, tablekeys.AuthPrefix) {
		return authz.Authorization{}, fmt.Errorf("decode authorization item: sort key %q is not an authorization", it.SK)
	}
	a, err := it.authorization()
	if err != nil {
		return a, fmt.Errorf("decode authorization %s/%s: %w", it.ConnectionID, it.Region, err)
	}
	return a, nil
}

// eventItem is one history line. Its sort key orders a connection's history by time.
type eventItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	ConnectionID string `dynamodbav:"connectionId"`
	Region       string `dynamodbav:"region,omitempty"`
	At           string `dynamodbav:"at"`
	Kind         string `dynamodbav:"kind"`
	Detail       string `dynamodbav:"detail,omitempty"`
	TTL          int64  `dynamodbav:"ttl"` // epoch seconds, DynamoDB TTL
	// The record's state around the event, read by the domain event publisher from the
	// stream. The seller id is not stored as sellingPartnerId: that is the by-seller
	// GSI key, and a history item must not appear in that index.
	StatusBefore string `dynamodbav:"statusBefore,omitempty"`
	StatusAfter  string `dynamodbav:"statusAfter,omitempty"`
	PartnerID    string `dynamodbav:"partnerId,omitempty"`
	ExpiresAt    string `dynamodbav:"expiresAt,omitempty"`
}

func toEventItem(e authz.Event) eventItem {
	return eventItem{
		PK:           connPK(e.ConnectionID),
		SK:           eventSK(e.At, e.Kind),
		ConnectionID: e.ConnectionID,
		Region:       string(e.Region),
		At:           formatTime(e.At),
		Kind:         string(e.Kind),
		Detail:       e.Detail,
		TTL:          e.At.AddDate(historyTTLYears, 0, 0).Unix(),
		StatusBefore: string(e.StatusBefore),
		StatusAfter:  string(e.StatusAfter),
		PartnerID:    e.SellingPartnerID,
		ExpiresAt:    formatTime(e.ExpiresAt),
	}
}

func (it eventItem) event() (authz.Event, error) {
	at, err := parseTime("at", it.At)
	if err != nil {
		return authz.Event{}, err
	}
	expires, err := parseTime("expiresAt", it.ExpiresAt)
	if err != nil {
		return authz.Event{}, err
	}
	return authz.Event{ConnectionID: it.ConnectionID, Region: authz.Region(it.Region), At: at, Kind: authz.EventKind(it.Kind), Detail: it.Detail,
		StatusBefore: authz.Status(it.StatusBefore), StatusAfter: authz.Status(it.StatusAfter), SellingPartnerID: it.PartnerID, ExpiresAt: expires}, nil
}

// nonceItem is a state nonce waiting for its callback. ttl lets DynamoDB sweep unused
// ones; ConsumeNonce checks expiresAt itself because TTL deletion happens only within
// a few days of expiry (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html).
type nonceItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	ConnectionID string `dynamodbav:"connectionId"`
	Region       string `dynamodbav:"region"`
	ExpiresAt    string `dynamodbav:"expiresAt"`
	TTL          int64  `dynamodbav:"ttl"`
}
