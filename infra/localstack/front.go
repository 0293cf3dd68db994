package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/spapi-auth-keeper/keeper/infra/runtimeapi"
)

// maxPayload is Lambda's limit on a synchronous invocation's request and response.
const maxPayload = 6 << 20

// front is the HTTP API: each HttpApi route of the template goes to its function as a
// payload format 2.0 event, and the function's answer goes back to the browser.
// Anything else gets API Gateway's own 404.
func (s *Stack) front() http.Handler {
	routes := map[string]*function{}
	for _, f := range s.functions {
		for _, r := range f.spec.Routes {
			routes[r.Method+" "+r.Path] = f
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routeKey := r.Method + " " + r.URL.Path
		f, ok := routes[routeKey]
		if !ok {
			apiError(w, http.StatusNotFound, "Not Found")
			return
		}
		ev, err := HTTPEvent(r, routeKey)
		if err != nil {
			apiError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		payload, _ := json.Marshal(ev) // strings and maps of strings: cannot fail
		// HTTP APIs give an integration at most 30 seconds.
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		out, err := s.invoke(f, ctx, payload)
		if err != nil {
			s.log.Error("HTTP API integration failed", "function", f.spec.LogicalID, "route", routeKey, "requestId", ev.RequestContext.RequestID, "error", err)
			if ctx.Err() != nil {
				apiError(w, http.StatusServiceUnavailable, "Service Unavailable")
				return
			}
			apiError(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		if err := WriteHTTPResponse(w, out); err != nil {
			s.log.Error("HTTP API integration answered an invalid response", "function", f.spec.LogicalID, "error", err)
			apiError(w, http.StatusInternalServerError, "Internal Server Error")
		}
	})
}

// apiError is how API Gateway answers what never reached a function.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// HTTPEvent turns a request into the HTTP API payload format 2.0 event Lambda receives:
// lower-case headers with repeated values joined by commas, cookies apart, query
// parameters joined the same way, and a body that is base64 unless it is text.
func HTTPEvent(r *http.Request, routeKey string) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	if len(body) > maxPayload {
		return events.APIGatewayV2HTTPRequest{}, errors.New("request body larger than Lambda's 6 MB payload limit")
	}
	now := time.Now().UTC()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			AccountID: AccountID, APIID: "local", DomainName: r.Host, DomainPrefix: strings.Split(r.Host, ".")[0],
			RequestID: newRequestID(), RouteKey: routeKey, Stage: "$default",
			Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		k = strings.ToLower(k)
		if k == "cookie" {
			continue
		}
		ev.Headers[k] = strings.Join(vs, ",")
	}
	ev.Headers["host"] = r.Host
	for _, c := range r.Cookies() {
		ev.Cookies = append(ev.Cookies, c.Name+"="+c.Value)
	}
	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(q) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev, nil
}

func isText(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "application/x-www-form-urlencoded" || mt == "application/xml"
}

func sourceIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// WriteHTTPResponse writes a function's answer as HTTP API does: an
// APIGatewayV2HTTPResponse when the JSON has a statusCode, otherwise the answer itself
// as a 200 JSON body (the format 2.0 shortcut).
func WriteHTTPResponse(w http.ResponseWriter, out []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(out, &probe); err != nil || probe["statusCode"] == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(out)
		return err
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return err
		}
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	w.WriteHeader(resp.StatusCode)
	_, err := w.Write(body)
	return err
}

// invokeAPI serves the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations)
// for the running functions, so that the operator CLI, the AWS CLI and SDKs invoke
// them with AWS_ENDPOINT_URL_LAMBDA pointed here, as they would in AWS.
func (s *Stack) invokeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if i := strings.LastIndex(name, ":function:"); i >= 0 {
			name = name[i+len(":function:"):]
		}
		f, ok := s.functions[name]
		if !ok {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			writeJSON(w, http.StatusNotFound, map[string]string{"Type": "User",
				"message": "Function not found: arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + name})
			return
		}
		payload, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
		if err != nil || len(payload) > maxPayload {
			w.Header().Set("X-Amzn-ErrorType", "RequestTooLargeException")
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"Type": "User", "message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"})
			return
		}
		if len(bytes.TrimSpace(payload)) == 0 {
			payload = []byte("{}")
		}
		switch r.Header.Get("X-Amz-Invocation-Type") {
		case "DryRun":
			w.WriteHeader(http.StatusNoContent)
			return
		case "Event":
			go func() {
				if _, err := s.invoke(f, context.Background(), payload); err != nil {
					s.log.Error("asynchronous invocation failed", "function", name, "error", err)
				}
			}()
			w.WriteHeader(http.StatusAccepted)
			return
		}
		out, err := s.invoke(f, r.Context(), payload)
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		var ie *runtimeapi.InvokeError
		switch {
		case errors.As(err, &ie):
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			writeJSON(w, http.StatusOK, ie.Response)
		case err != nil:
			w.Header().Set("X-Amzn-ErrorType", "ServiceException")
			writeJSON(w, http.StatusInternalServerError, map[string]string{"Type": "Service", "message": err.Error()})
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		}
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
