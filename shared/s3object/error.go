package s3object

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/smithy-go"
)

// Error is S3's answer to a request it refused or failed: the operation, the HTTP
// status and what S3's XML error body says (Code, Message, RequestId). It holds
// nothing else of the body: S3's SignatureDoesNotMatch error echoes the access key
// id and the canonical request (the session token among its headers).
type Error struct {
	Operation  string // GetObject, PutObject, DeleteObject
	StatusCode int
	Code       string // NoSuchKey, PreconditionFailed, SlowDown, AccessDenied…
	Message    string
	RequestID  string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("s3 %s: %d %s", e.Operation, e.StatusCode, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// ErrorCode, ErrorMessage and ErrorFault make an Error a smithy.APIError, as the
// SDK's clients' errors are.
func (e *Error) ErrorCode() string    { return e.Code }
func (e *Error) ErrorMessage() string { return e.Message }
func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// retryable: S3's own failures (500 InternalError, 503 SlowDown, and the 502 and
// 504 of what stands in front of it) and a connection S3 gave up on (400
// RequestTimeout), as the SDK's standard retryer retries them.
func (e *Error) retryable() bool {
	switch e.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.Code == "RequestTimeout" || e.Code == "SlowDown" || e.Code == "InternalError"
}

// statusCodes name the errors S3 answers without a body (HEAD-like answers, some
// 304/412 from proxies): the code the SDK gives them.
var statusCodes = map[int]string{
	http.StatusNotModified: "NotModified", http.StatusBadRequest: "BadRequest", http.StatusForbidden: "Forbidden",
	http.StatusNotFound: "NotFound", http.StatusPreconditionFailed: "PreconditionFailed",
	http.StatusServiceUnavailable: "ServiceUnavailable", http.StatusInternalServerError: "InternalError",
}

// readError reads S3's error answer (at most 64 KiB of it) and closes it.
func readError(op string, resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Operation: op, StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Amz-Request-Id")}
	var body Error
	parseErrorBody(io.LimitReader(resp.Body, 64<<10), &body)
	e.Code, e.Message = body.Code, body.Message
	if body.RequestID != "" {
		e.RequestID = body.RequestID
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if e.Code == "" {
		e.Code = statusCodes[resp.StatusCode]
		if e.Code == "" {
			e.Code = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

// parseErrorBody fills Code, Message and RequestId from
// <Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId>…</Error>,
// the children of the root element only; anything else (an HTML page from a proxy,
// nothing at all) leaves them as they are.
func parseErrorBody(r io.Reader, e *Error) {
	d := xml.NewDecoder(r)
	depth := 0
	var field *string
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && t.Name.Local != "Error" {
				return
			}
			field = nil
			if depth == 2 {
				switch t.Name.Local {
				case "Code":
					field = &e.Code
				case "Message":
					field = &e.Message
				case "RequestId":
					field = &e.RequestID
				}
			}
		case xml.EndElement:
			depth--
			field = nil
			if depth == 0 {
				return
			}
		case xml.CharData:
			if field != nil {
				*field += string(t)
			}
		}
	}
}
