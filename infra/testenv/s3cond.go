package testenv

import (
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// ifMatch gives the emulator what gofakes3 leaves out: GetObject and HeadObject
// with If-Match. S3 answers 412 PreconditionFailed when the object's ETag is not the
// one named (or "*" and the object exists); a missing object stays 404 NoSuchKey.
// The import function relies on it to notice a file replaced mid-import.
func ifMatch(backend gofakes3.Backend, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := r.Header.Get("If-Match")
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if want == "" || key == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		obj, err := backend.HeadObject(bucket, key)
		if err != nil {
			next.ServeHTTP(w, r) // gofakes3 answers NoSuchBucket or NoSuchKey
			return
		}
		etag := `"` + hex.EncodeToString(obj.Hash) + `"`
		if want == "*" || matchesETag(want, etag) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusPreconditionFailed)
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>PreconditionFailed</Code>` +
				`<Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition>` +
				`<RequestId>testenv-if-match</RequestId></Error>`))
		}
	})
}

// matchesETag: If-Match holds a comma-separated list of quoted ETags (RFC 9110).
func matchesETag(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		if strings.TrimSpace(v) == etag {
			return true
		}
	}
	return false
}
