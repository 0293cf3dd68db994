package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/tablekeys"
)

// HistoryKey is the table key of a history event, as the store writes it. The domain
// event id is derived from it, so a replay from history names an event as its first
// delivery through the stream did.
func HistoryKey(e authz.Event) (pk, sk string) {
	return connPK(e.ConnectionID), eventSK(e.At, e.Kind)
}

// IsHistoryKey reports whether a table key is a history event's.
func IsHistoryKey(pk, sk string) bool {
	return len(pk) > len(tablekeys.ConnPrefix) && strings.HasPrefix(pk, tablekeys.ConnPrefix) &&
		len(sk) > len(tablekeys.EventPrefix) && strings.HasPrefix(sk, tablekeys.EventPrefix)
}

// ClientSecretHistoryPK is where the client secret rotation keeps its history (the
// rotation ledger's items): the app's, not a connection's.
const ClientSecretHistoryPK = tablekeys.ClientSecretPK

// clientSecretKinds are the rotation's history kinds that are domain events, and the
// kinds they are published as; its other steps (requested, a notification refused)
// are not.
var clientSecretKinds = map[string]authz.EventKind{
	"rotated":         "client_secret_rotated",
	"rotation_failed": "client_secret_rotation_failed",
}

// clientSecretHistory is a rotation history item as a history event with no
// connection.
func clientSecretHistory(it eventItem) (string, string, authz.Event, error) {
	kind, ok := clientSecretKinds[it.Kind]
	if !ok {
		return it.PK, it.SK, authz.Event{}, ErrNotHistory
	}
	at, err := parseTime("at", it.At)
	if err != nil || at.IsZero() {
		return it.PK, it.SK, authz.Event{}, fmt.Errorf("history image %s %s: at: %v", it.PK, it.SK, err)
	}
	return it.PK, it.SK, authz.Event{At: at, Kind: kind, Detail: it.Detail}, nil
}

// ErrNotHistory is a stream record of an item that is not a history event.
var ErrNotHistory = errors.New("not a history item")

// HistoryFromImage decodes a history item from a DynamoDB Streams image (the
// NEW_IMAGE of an INSERT, as Lambda delivers it). Another item is ErrNotHistory; a
// history item that does not decode is an error naming the attribute.
func HistoryFromImage(img map[string]events.DynamoDBAttributeValue) (pk, sk string, e authz.Event, err error) {
	str := func(name string) (string, error) {
		v, ok := img[name]
		if !ok || v.IsNull() {
			return "", nil
		}
		if v.DataType() != events.DataTypeString {
			return "", fmt.Errorf("attribute %s is not a string", name)
		}
		return v.String(), nil
	}
	var it eventItem
	for name, dst := range map[string]*string{
		attrPK: &it.PK, attrSK: &it.SK, "connectionId": &it.ConnectionID, "region": &it.Region, "at": &it.At, "kind": &it.Kind,
		"detail": &it.Detail, "statusBefore": &it.StatusBefore, "statusAfter": &it.StatusAfter, "partnerId": &it.PartnerID, "expiresAt": &it.ExpiresAt,
	} {
		if *dst, err = str(name); err != nil {
			return "", "", authz.Event{}, fmt.Errorf("history image: %w", err)
		}
	}
	if it.PK == ClientSecretHistoryPK && strings.HasPrefix(it.SK, tablekeys.EventPrefix) {
		return clientSecretHistory(it)
	}
	if !IsHistoryKey(it.PK, it.SK) {
		return it.PK, it.SK, authz.Event{}, ErrNotHistory
	}
	if it.Kind == "" || it.At == "" {
		return it.PK, it.SK, authz.Event{}, fmt.Errorf("history image %s %s: kind and at are required", it.PK, it.SK)
	}
	if err := authz.ValidateConnectionID(it.ConnectionID); err != nil {
		return it.PK, it.SK, authz.Event{}, fmt.Errorf("history image %s %s: %w", it.PK, it.SK, err)
	}
	e, err = it.event()
	if err != nil {
		return it.PK, it.SK, authz.Event{}, fmt.Errorf("history image %s %s: %w", it.PK, it.SK, err)
	}
	return it.PK, it.SK, e, nil
}
