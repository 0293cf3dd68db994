package localstack_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spapi-auth-keeper/keeper/infra/localstack"
)

// TestHTTPEvent: a browser request becomes the HTTP API payload 2.0 event Lambda gets.
func TestHTTPEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		req   func() *http.Request
		check func(t *testing.T, body string, b64 bool, headers, query map[string]string, cookies []string)
	}{
		{"query, headers and cookies", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "http://keeper.local/callback?state=a%2Bb&x=1&x=2", nil)
			r.Header.Add("Accept", "text/html")
			r.Header.Add("X-Multi", "one")
			r.Header.Add("X-Multi", "two")
			r.AddCookie(&http.Cookie{Name: "sid", Value: "abc"})
			return r
		}, func(t *testing.T, body string, b64 bool, h, q map[string]string, c []string) {
			if q["state"] != "a+b" || q["x"] != "1,2" || h["accept"] != "text/html" || h["x-multi"] != "one,two" || h["cookie"] != "" ||
				len(c) != 1 || c[0] != "sid=abc" || h["host"] != "keeper.local" || body != "" || b64 {
				t.Fatalf("headers %v, query %v, cookies %v, body %q", h, q, c, body)
			}
		}},
		{"a form body stays text", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://keeper.local/login", strings.NewReader("a=1&b=2"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, func(t *testing.T, body string, b64 bool, h, q map[string]string, c []string) {
			if body != "a=1&b=2" || b64 || q != nil {
				t.Fatalf("body %q base64 %t query %v", body, b64, q)
			}
		}},
		{"a binary body is base64", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://keeper.local/upload", strings.NewReader("\x00\xff"))
			r.Header.Set("Content-Type", "application/octet-stream")
			return r
		}, func(t *testing.T, body string, b64 bool, h, q map[string]string, c []string) {
			if raw, _ := base64.StdEncoding.DecodeString(body); !b64 || string(raw) != "\x00\xff" {
				t.Fatalf("body %q base64 %t", body, b64)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.req()
			ev, err := localstack.HTTPEvent(r, r.Method+" "+r.URL.Path)
			must(t, err)
			if ev.Version != "2.0" || ev.RawPath != r.URL.Path || ev.RequestContext.HTTP.Method != r.Method || ev.RequestContext.RequestID == "" || ev.RequestContext.Stage != "$default" {
				t.Fatalf("event %+v", ev)
			}
			tc.check(t, ev.Body, ev.IsBase64Encoded, ev.Headers, ev.QueryStringParameters, ev.Cookies)
		})
	}
}

// TestWriteHTTPResponse: the function's answer reaches the browser as HTTP API sends it.
func TestWriteHTTPResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, out string
		status    int
		body      string
		header    [2]string
		cookies   int
	}{
		{"redirect", `{"statusCode":302,"headers":{"Location":"https://sc.example/x"}}`, 302, "", [2]string{"Location", "https://sc.example/x"}, 0},
		{"page with cookies", `{"statusCode":200,"headers":{"Content-Type":"text/html"},"cookies":["a=1","b=2"],"body":"<h1>ok</h1>"}`, 200, "<h1>ok</h1>", [2]string{"Content-Type", "text/html"}, 2},
		{"base64 body", `{"statusCode":200,"isBase64Encoded":true,"body":"aGk="}`, 200, "hi", [2]string{}, 0},
		{"no statusCode: the JSON itself", `{"result":"ok"}`, 200, `{"result":"ok"}`, [2]string{"Content-Type", "application/json"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			must(t, localstack.WriteHTTPResponse(w, []byte(tc.out)))
			if w.Code != tc.status || w.Body.String() != tc.body || (tc.header[0] != "" && w.Header().Get(tc.header[0]) != tc.header[1]) || len(w.Header().Values("Set-Cookie")) != tc.cookies {
				t.Fatalf("%d %q %v", w.Code, w.Body.String(), w.Header())
			}
		})
	}
	if err := localstack.WriteHTTPResponse(httptest.NewRecorder(), []byte(`{"statusCode":200,"isBase64Encoded":true,"body":"!!"}`)); err == nil {
		t.Fatal("a body that is not base64 was written")
	}
}
