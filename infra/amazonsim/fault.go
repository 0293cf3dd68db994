package amazonsim

import (
	"fmt"
	"time"
)

// Fault is one injected misbehaviour of the token endpoint. Build it with the
// functions below; queue it with (*Sim).InjectFault.
type Fault struct {
	Kind        string        // the name the admin API uses, e.g. "throttled"
	Status      int           // HTTP status of the answer; 0: the request is then processed as usual
	Code        string        // the LWA "error" field; empty for a bare HTTP error
	Description string        // error_description
	RetryAfter  time.Duration // sent as Retry-After (whole seconds, rounded up) when > 0
	Delay       time.Duration // the answer is held this long, or until the client hangs up
	Body        string        // sent as is (with Status, 200 if 0) instead of the usual answer: a garbled reply
}

// WithRetryAfter returns f with a Retry-After header.
func (f Fault) WithRetryAfter(d time.Duration) Fault {
	f.RetryAfter = d
	return f
}

// Throttled is HTTP 429 without an LWA error body, as Amazon's throttling answers.
func Throttled() Fault {
	return Fault{Kind: "throttled", Status: 429}
}

// ServerError is HTTP 500 server_error.
func ServerError() Fault {
	return Fault{Kind: "server_error", Status: 500, Code: "server_error",
		Description: "The authorization server encountered an unexpected condition."}
}

// Unavailable is HTTP 503 temporarily_unavailable.
func Unavailable() Fault {
	return Fault{Kind: "temporarily_unavailable", Status: 503, Code: "temporarily_unavailable",
		Description: "The authorization server is temporarily unavailable."}
}

// Timeout holds the answer for d, or until the client hangs up, and then processes the
// request as usual: LWA did the work, only the answer was late or lost. A client that
// gave up on a code exchange has therefore burned the code, as it would with Amazon.
func Timeout(d time.Duration) Fault {
	return Fault{Kind: "timeout", Delay: d}
}

// InvalidGrant is HTTP 400 invalid_grant whatever the request holds.
func InvalidGrant() Fault {
	return Fault{Kind: "invalid_grant", Status: 400, Code: "invalid_grant",
		Description: "The request has an invalid grant parameter."}
}

// InvalidClient is HTTP 401 invalid_client: client authentication failed.
func InvalidClient() Fault {
	return Fault{Kind: "invalid_client", Status: 401, Code: "invalid_client",
		Description: "Client authentication failed."}
}

// UnauthorizedClient is HTTP 401 unauthorized_client: the client may not use this grant.
func UnauthorizedClient() Fault {
	return Fault{Kind: "unauthorized_client", Status: 401, Code: "unauthorized_client",
		Description: "The client is not authorized for the requested operation."}
}

// InvalidRequest is HTTP 400 invalid_request.
func InvalidRequest() Fault {
	return Fault{Kind: "invalid_request", Status: 400, Code: "invalid_request",
		Description: "The request is missing a required parameter or is otherwise malformed."}
}

// Malformed answers 200 with a body that is not the JSON the endpoint sends, as a
// proxy or a truncated answer would.
func Malformed() Fault {
	return Fault{Kind: "malformed", Status: 200, Body: `{"payload": [{"marketplace": `}
}

// Forbidden is HTTP 403 (for SP-API operations: the SP-API's Unauthorized error).
func Forbidden() Fault {
	return Fault{Kind: "forbidden", Status: 403}
}

// FaultKinds names every fault the admin API accepts.
var FaultKinds = []string{"throttled", "server_error", "temporarily_unavailable", "timeout",
	"invalid_grant", "invalid_client", "unauthorized_client", "invalid_request", "malformed", "forbidden"}

// ParseFault builds the fault named kind; delay is used by "timeout" only.
func ParseFault(kind string, delay time.Duration) (Fault, error) {
	switch kind {
	case "throttled":
		return Throttled(), nil
	case "server_error":
		return ServerError(), nil
	case "temporarily_unavailable":
		return Unavailable(), nil
	case "timeout":
		if delay <= 0 {
			delay = time.Minute
		}
		return Timeout(delay), nil
	case "invalid_grant":
		return InvalidGrant(), nil
	case "invalid_client":
		return InvalidClient(), nil
	case "unauthorized_client":
		return UnauthorizedClient(), nil
	case "invalid_request":
		return InvalidRequest(), nil
	case "malformed":
		return Malformed(), nil
	case "forbidden":
		return Forbidden(), nil
	}
	return Fault{}, fmt.Errorf("unknown fault kind %q (want one of %v)", kind, FaultKinds)
}
