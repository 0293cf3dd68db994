// Package tablekeys is the keeper table's key space: the partition and sort key of
// every item kind, in one place (DESIGN.md, "Data: one DynamoDB table"). The store,
// the vault's index, the pace budgets and the client-secret rotation's ledger build
// their keys here, so that no two kinds can collide and a new kind is added where the
// others are.
//
// It imports nothing of the keeper's: any package that writes to the table can use it
// without a cycle, however the packages above it depend on each other.
//
//	authorization        CONN#{connectionId}                 AUTH#{region}
//	history event        CONN#{connectionId}                 EVENT#{at}#{kind}
//	state nonce          STATE#{nonce}                       STATE
//	seller binding       SELLER#{region}#{sellingPartnerId}  BINDING
//	parked token         PARKED                              {connectionId}#{region}
//	expiry scan cursor   META#expiryscan                     CURSOR
//	client secret        META#client-secret                  ROTATION, and its history EVENT#{at}#{kind}
//	funnel day           META#funnel#{YYYY-MM-DD}            COUNTS
//	remote import        META#import#{id}                    IMPORT
//	webhook endpoint     META#webhooks                       ENDPOINT#{id}
//	pace budget          META#pace                           {budget name}
//	vault index entry    VAULT#entry#{connectionId}/{region} ENTRY
//	vault bucket         VAULT#bucket#{n:06d}                BUCKET
//	vault open bucket    VAULT#open                          OPEN
//	vault write budget   VAULT#pace#budget                   secretsmanager-writes
//
// {at} is TimeLayout in UTC.
package tablekeys

import (
	"fmt"
	"time"
)

// The key attributes' names.
const (
	PK = "pk"
	SK = "sk"
)

// TimeLayout is RFC 3339 in UTC with a fixed nine-digit fraction. time.RFC3339Nano
// drops trailing zeros, and then "…05Z" sorts after "…05.5Z": history sort keys must
// order as the times do.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Authorizations and their history share the connection's partition.
const (
	ConnPrefix  = "CONN#"
	AuthPrefix  = "AUTH#"
	EventPrefix = "EVENT#"
)

// ConnPK is the partition of a connection: its authorizations and their history.
func ConnPK(connectionID string) string { return ConnPrefix + connectionID }

// AuthSK is an authorization's sort key in its connection's partition.
func AuthSK(region string) string { return AuthPrefix + region }

// EventSK is a history event's sort key (a connection's, or the client secret's): the
// time first, so that a Query reads a history in order. The zero time leaves the time
// out.
func EventSK(at time.Time, kind string) string {
	t := ""
	if !at.IsZero() {
		t = at.UTC().Format(TimeLayout)
	}
	return EventPrefix + t + "#" + kind
}

// State nonces: one item each, deleted when the callback consumes it.
const (
	StatePrefix = "STATE#"
	StateSK     = "STATE"
)

// StatePK is a state nonce's partition.
func StatePK(nonce string) string { return StatePrefix + nonce }

// Seller bindings: one selling partner is bound to at most one connection per region.
const (
	SellerPrefix = "SELLER#"
	BindingSK    = "BINDING"
)

// SellerPK is the partition of a selling partner's binding in region.
func SellerPK(region, sellingPartnerID string) string {
	return SellerPrefix + region + "#" + sellingPartnerID
}

// Parked tokens: one partition holds them all (they are rare; the sweep reads them in
// one Query).
const ParkedPK = "PARKED"

// ParkedSK is a parked token's sort key.
func ParkedSK(connectionID, region string) string { return connectionID + "#" + region }

// The expiry scan's cursor.
const (
	ExpiryScanPK = "META#expiryscan"
	ExpiryScanSK = "CURSOR"
)

// The client secret rotation's state item; its history events take EventSK.
const (
	ClientSecretPK      = "META#client-secret"
	ClientSecretStateSK = "ROTATION"
)

// The renewal funnel's counters: one partition per UTC day.
const (
	FunnelPrefix = "META#funnel#"
	FunnelSK     = "COUNTS"
)

// FunnelPK is the partition of one day's counters (YYYY-MM-DD).
func FunnelPK(day string) string { return FunnelPrefix + day }

// A remote import's progress.
const (
	ImportPrefix = "META#import#"
	ImportSK     = "IMPORT"
)

// ImportPK is the partition of one import's progress.
func ImportPK(id string) string { return ImportPrefix + id }

// Webhook endpoints: one partition holds them all.
const (
	WebhooksPK     = "META#webhooks"
	EndpointPrefix = "ENDPOINT#"
)

// EndpointSK is a webhook endpoint's sort key.
func EndpointSK(id string) string { return EndpointPrefix + id }

// PacePK is the partition of the call budgets (shared/pace); each budget's name is its
// sort key.
const PacePK = "META#pace"

// The vault's index of the packed layout.
const (
	VaultEntryPrefix  = "VAULT#entry#"
	VaultEntrySK      = "ENTRY"
	VaultBucketPrefix = "VAULT#bucket#"
	VaultBucketSK     = "BUCKET"
	VaultOpenPK       = "VAULT#open"
	VaultOpenSK       = "OPEN"
)

// VaultPacePrefix begins the partitions of the vault's pace of Secrets Manager writes.
const VaultPacePrefix = "VAULT#pace#"

// The vault's budget of Secrets Manager writes as a pace budget (shared/pace): its
// item lies under the vault's own VAULT#pace# partition, which the functions that
// write secrets may touch, with the budget's name as its sort key.
const (
	VaultWriteBudgetPK = VaultPacePrefix + "budget"
	VaultWriteBudget   = "secretsmanager-writes"
)

// VaultEntryPK is the index item of entry ({connectionId}/{region}).
func VaultEntryPK(entry string) string { return VaultEntryPrefix + entry }

// VaultBucketPK is bucket n's bookkeeping item.
func VaultBucketPK(n int) string { return fmt.Sprintf("%s%06d", VaultBucketPrefix, n) }
