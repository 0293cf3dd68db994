package config

import (
	"fmt"
	"strings"
)

// Events is the configuration of the domain events, the webhooks and the token
// service, read apart from Config so that the event publisher, the webhook sender and
// the token service check only what they use.
type Events struct {
	BusName         string // EVENT_BUS_NAME: the stack's EventBridge bus (name or ARN)
	Source          string // EVENT_SOURCE: the events' source; spapi-keeper by default
	WebhookURLs     string // WEBHOOK_URL: one or more receiver URLs (commas or spaces)
	WebhookQueueURL string // WEBHOOK_QUEUE_URL: the delivery queue
	WebhookKeyID    string // WEBHOOK_KEY_SECRET: the generated key endpoints' signing secrets derive from
	SPAPIEndpoint   string // SP_API_ENDPOINT: overrides every region's SP-API endpoint (the simulator)
	// TokenServiceCallers (TOKEN_SERVICE_CALLERS) is the token service's allow-list of
	// callers and their connections, read by tokenservice.ParseCallers.
	TokenServiceCallers string
}

// LoadEvents reads the variables and checks that the required ones are set.
func LoadEvents(getenv func(string) string, required ...string) (Events, error) {
	e := Events{
		BusName:         getenv("EVENT_BUS_NAME"),
		Source:          getenv("EVENT_SOURCE"),
		WebhookURLs:     strings.TrimSpace(getenv("WEBHOOK_URL")),
		WebhookQueueURL: getenv("WEBHOOK_QUEUE_URL"),
		WebhookKeyID:    getenv("WEBHOOK_KEY_SECRET"),
		SPAPIEndpoint:   strings.TrimRight(getenv("SP_API_ENDPOINT"), "/"),

		TokenServiceCallers: strings.TrimSpace(getenv("TOKEN_SERVICE_CALLERS")),
	}
	values := map[string]string{"EVENT_BUS_NAME": e.BusName, "WEBHOOK_QUEUE_URL": e.WebhookQueueURL, "WEBHOOK_KEY_SECRET": e.WebhookKeyID}
	var missing []string
	for _, n := range required {
		v, ok := values[n]
		if !ok {
			panic("config.LoadEvents: unknown variable " + n)
		}
		if v == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return e, fmt.Errorf("missing environment variables: %s", strings.Join(missing, ", "))
	}
	return e, nil
}
