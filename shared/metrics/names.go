package metrics

// Names of every metric the functions emit, in namespace SpapiAuthKeeper. The alarms
// and the dashboard in template.yaml name them; the test beside this file checks both
// ways that the template and the code agree.
const (
	// Token refresh (proof of life) and the token service.
	RefreshSucceeded      = "RefreshSucceeded"
	RefreshFailed         = "RefreshFailed" // dimension Reason: RefreshFailedReasons
	RefreshQueued         = "RefreshQueued"
	ClientSecretDaysLeft  = "ClientSecretDaysLeft" // unit None: days until the LWA client secret expires
	TokenServed           = "TokenServed"
	RestrictedTokenServed = "RestrictedTokenServed"

	// Renewal round trip.
	CallbackSucceeded   = "CallbackSucceeded"
	CallbackRejected    = "CallbackRejected" // dimension Reason
	TokenParked         = "TokenParked"
	TokenLost           = "TokenLost"
	ParkedTokensWaiting = "ParkedTokensWaiting"

	// Renewal funnel (dimension Stage).
	LinkOpened          = "LinkOpened"
	RenewedBeforeExpiry = "RenewedBeforeExpiry"
	RenewedAfterExpiry  = "RenewedAfterExpiry"

	// Expiry scan and reminders.
	AuthorizationsExpiring = "AuthorizationsExpiring"
	AuthorizationsExpired  = "AuthorizationsExpired"
	RemindersQueued        = "RemindersQueued"
	RemindersSent          = "RemindersSent"
	ReminderFailed         = "ReminderFailed" // dimension Reason

	// SES delivery events of reminders (dimension Stage, except where noted).
	ReminderDelivered      = "ReminderDelivered"
	ReminderSoftBounced    = "ReminderSoftBounced"
	ReminderBounced        = "ReminderBounced"
	ReminderComplained     = "ReminderComplained"
	ReminderDelayed        = "ReminderDelayed"
	ReminderDeliveryFailed = "ReminderDeliveryFailed"
	SellerUnreachable      = "SellerUnreachable"
	DeliveryEventIgnored   = "DeliveryEventIgnored" // dimension Reason

	// Seller Central notifications (App Integrations).
	AppNotificationsPosted   = "AppNotificationsPosted"
	AppNotificationsDisabled = "AppNotificationsDisabled"
	AppNotificationFailed    = "AppNotificationFailed" // dimension Reason

	// Vault.
	VaultBucketVersionsHigh = "VaultBucketVersionsHigh"

	// Client secret rotation.
	ClientSecretRotationRequested   = "ClientSecretRotationRequested"
	ClientSecretRotated             = "ClientSecretRotated"
	ClientSecretRotationFailed      = "ClientSecretRotationFailed"      // dimension Reason
	ClientSecretNotificationIgnored = "ClientSecretNotificationIgnored" // dimension Reason

	// Domain events and webhooks.
	DomainEventPublished    = "DomainEventPublished" // dimension DetailType
	DomainEventFailed       = "DomainEventFailed"    // dimension Reason
	DomainEventSkipped      = "DomainEventSkipped"   // dimension Reason
	WebhookDelivered        = "WebhookDelivered"
	WebhookRejected         = "WebhookRejected" // dimension Reason
	WebhookFailed           = "WebhookFailed"   // dimension Reason
	WebhookEndpointDisabled = "WebhookEndpointDisabled"
)

// Dimension names.
const (
	DimReason     = "Reason"
	DimStage      = "Stage"
	DimDetailType = "DetailType"
)

// Dimension values that alarms in template.yaml select: an alarm on a metric with a
// dimension sees only the series whose value matches exactly, so a value renamed in
// the code silently empties the alarm.
const (
	ReasonRevoked         = "revoked"          // RefreshFailed: the seller must reconnect
	ReasonClient          = "client"           // RefreshFailed, ClientSecretRotationFailed: the vendor's LWA credentials
	ReasonNoSecret        = "no_secret"        // RefreshFailed: the vault lost a token
	ReasonAccountMismatch = "account_mismatch" // CallbackRejected: a token of another seller's account
	ReasonTLS             = "tls"              // WebhookFailed: an endpoint without a public certificate
	ReasonUnknownKind     = "unknown_kind"     // DomainEventSkipped: a history kind the publisher does not map
)

// Metric describes one metric: its dimensions, the dimension values alarms select,
// and, for a metric no alarm and no dashboard widget shows, why it is emitted anyway.
type Metric struct {
	Name       string
	Dimensions []string
	// Alarmed lists, per dimension, the values template.yaml's alarms select.
	Alarmed map[string][]string
	// Unwatched is the reason a metric is deliberately neither alarmed nor on the
	// dashboard; empty for a metric that is either.
	Unwatched string
}

// All is every metric the functions emit.
var All = []Metric{
	{Name: RefreshSucceeded},
	{Name: RefreshFailed, Dimensions: []string{DimReason}, Alarmed: map[string][]string{DimReason: {ReasonRevoked, ReasonClient, ReasonNoSecret}}},
	{Name: RefreshQueued},
	{Name: ClientSecretDaysLeft},
	{Name: TokenServed, Unwatched: "usage count of the token service, for a vendor's own dashboard; a failure is a RefreshFailed"},
	{Name: RestrictedTokenServed, Unwatched: "usage count of restricted data tokens, for a vendor's own dashboard"},
	{Name: CallbackSucceeded},
	{Name: CallbackRejected, Dimensions: []string{DimReason}, Alarmed: map[string][]string{DimReason: {ReasonAccountMismatch}}},
	{Name: TokenParked, Unwatched: "a parked token is counted while it waits by ParkedTokensWaiting, which is alarmed"},
	{Name: TokenLost},
	{Name: ParkedTokensWaiting},
	{Name: LinkOpened, Dimensions: []string{DimStage}},
	{Name: RenewedBeforeExpiry, Dimensions: []string{DimStage}},
	{Name: RenewedAfterExpiry, Dimensions: []string{DimStage}},
	{Name: AuthorizationsExpiring},
	{Name: AuthorizationsExpired},
	{Name: RemindersQueued},
	{Name: RemindersSent},
	{Name: ReminderFailed, Dimensions: []string{DimReason}},
	{Name: ReminderDelivered, Dimensions: []string{DimStage}},
	{Name: ReminderSoftBounced, Dimensions: []string{DimStage}, Unwatched: "a soft bounce is retried by SES; only a hard bounce (ReminderBounced) changes what the seller gets"},
	{Name: ReminderBounced, Dimensions: []string{DimStage}},
	{Name: ReminderComplained, Dimensions: []string{DimStage}},
	{Name: ReminderDelayed, Dimensions: []string{DimStage}, Unwatched: "a delay is SES still trying; the delivery or bounce that follows is what the dashboard shows"},
	{Name: ReminderDeliveryFailed, Dimensions: []string{DimStage}, Unwatched: "SES rejected the message or could not render it after accepting it: recorded on the reminder entry with SES's words, and logged"},
	{Name: SellerUnreachable},
	{Name: DeliveryEventIgnored, Dimensions: []string{DimReason}, Unwatched: "SES events the keeper does not track (other messages of the configuration set); each is logged"},
	{Name: AppNotificationsPosted, Unwatched: "the Seller Central channel is optional and backs up the email; its posts are logged"},
	{Name: AppNotificationsDisabled, Unwatched: "App Integrations refused the app (role not granted): logged as an error once per process, and the email channel still reaches the seller"},
	{Name: AppNotificationFailed, Dimensions: []string{DimReason}, Unwatched: "the Seller Central channel backs up the email channel, which reminders rely on; a failure is logged"},
	{Name: VaultBucketVersionsHigh},
	{Name: ClientSecretRotationRequested, Unwatched: "the rotation's progress is in the credentials function's logs and the client-secret meta item"},
	{Name: ClientSecretRotated, Unwatched: "a successful rotation shows in ClientSecretDaysLeft, which is alarmed and on the dashboard"},
	{Name: ClientSecretRotationFailed, Dimensions: []string{DimReason}, Alarmed: map[string][]string{DimReason: {
		"malformed", "unknown_type", "other_client", "duplicate", "unverified", ReasonClient, "not_enrolled", "forbidden", "bad_request", "no_notification"}}},
	{Name: ClientSecretNotificationIgnored, Dimensions: []string{DimReason}, Unwatched: "notifications meant for another application: a queue shared by several apps is normal"},
	{Name: DomainEventPublished, Dimensions: []string{DimDetailType}, Unwatched: "throughput of the event bus, by detail type"},
	{Name: DomainEventFailed, Dimensions: []string{DimReason}, Unwatched: "the stream retries the batch; what keeps failing reaches the alarmed dead-letter queue"},
	{Name: DomainEventSkipped, Dimensions: []string{DimReason}, Alarmed: map[string][]string{DimReason: {ReasonUnknownKind}}},
	{Name: WebhookDelivered, Unwatched: "throughput of webhook delivery; messages that keep failing land in the alarmed dead-letter queue"},
	{Name: WebhookRejected, Dimensions: []string{DimReason}, Unwatched: "the receiver refused the message, or its endpoint is disabled: not retried, logged with the endpoint; an endpoint that answers 410 is counted by WebhookEndpointDisabled, which is alarmed"},
	{Name: WebhookFailed, Dimensions: []string{DimReason}, Alarmed: map[string][]string{DimReason: {ReasonTLS}}},
	{Name: WebhookEndpointDisabled},
}
