package s3object_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/s3object"
)

// awkwardKeys are keys a vendor may well upload, each a byte S3's URI encoding
// treats specially.
var awkwardKeys = []struct{ name, key string }{
	{"plain", "imports/sellers.csv"},
	{"spaces", "imports/vendor uploads/sellers 2026.csv"},
	{"plus and equals", "imports/a+b=c&d.csv"},
	{"unicode", "imports/ünïcødé/日本の販売者.csv"},
	{"percent", "imports/100%/x%2Fy%zz.csv"},
	{"question mark and hash", "imports/what?is=this#frag.csv"},
	{"reserved", "imports/~!$'()*,;:@[].csv"},
	{"segments S3 keeps", "imports//a/./b/../c.csv"},
}

// TestRoundTripOfAwkwardKeys: an object put by this client is the object the SDK's
// client finds under the same key (one encoding, not two), with its Content-Type;
// it reads back with its ETag, and is gone once deleted. Every request goes through
// the emulator's SigV4 check.
func TestRoundTripOfAwkwardKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testenv.S3Objects(t)
	sdk := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	for _, tt := range awkwardKeys {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(`{"key":"` + tt.name + `"}`)
			if err := c.PutObject(ctx, bucket, tt.key, body, "application/json"); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			head, err := sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tt.key)})
			if err != nil {
				t.Fatalf("the SDK does not find the object under %q: %v", tt.key, err)
			}
			if got := aws.ToString(head.ContentType); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if got := aws.ToInt64(head.ContentLength); got != int64(len(body)) {
				t.Errorf("Content-Length = %d, want %d", got, len(body))
			}
			sum := md5.Sum(body)
			wantETag := hex.EncodeToString(sum[:])
			obj, err := c.GetObject(ctx, bucket, tt.key, "")
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			got, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("body = %q, %v; want %q", got, err, body)
			}
			if obj.ETag != wantETag || strings.Trim(aws.ToString(head.ETag), `"`) != wantETag {
				t.Errorf("ETag = %q (the SDK's %q), want %q", obj.ETag, aws.ToString(head.ETag), wantETag)
			}
			// The ETag it gave, quoted or not, still matches.
			for _, etag := range []string{obj.ETag, `"` + obj.ETag + `"`} {
				o, err := c.GetObject(ctx, bucket, tt.key, etag)
				if err != nil {
					t.Fatalf("GetObject with If-Match %s: %v", etag, err)
				}
				o.Body.Close()
			}
			if err := c.DeleteObject(ctx, bucket, tt.key); err != nil {
				t.Fatalf("DeleteObject: %v", err)
			}
			if _, err := sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(tt.key)}); err == nil {
				t.Error("the object is still there after DeleteObject")
			}
			_, err = c.GetObject(ctx, bucket, tt.key, "")
			var e *s3object.Error
			if !errors.As(err, &e) || e.StatusCode != 404 || e.Code != "NoSuchKey" || e.Operation != "GetObject" {
				t.Errorf("GetObject of the deleted object: %v, want 404 NoSuchKey", err)
			}
			// Deleting what is gone is not an error in S3.
			if err := c.DeleteObject(ctx, bucket, tt.key); err != nil {
				t.Errorf("DeleteObject again: %v", err)
			}
		})
	}
}

// TestImportObjects: the importer's adapter over this client, as the import
// function uses it: metadata as the importer reads it, a missing object is
// ErrNoObject, a replaced one the replaced-file error.
func TestImportObjects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	objects := importer.S3Objects{Client: testenv.S3Objects(t)}
	sdk := testenv.S3(t)
	bucket := testenv.NewBucket(t)
	key := "imports/vendor uploads/sellers+1.csv"
	put := func(body string) {
		t.Helper()
		// As keeperctl uploads it: through the SDK, with the import's settings in
		// user metadata (mixed case on purpose).
		if _, err := sdk.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
			Metadata: map[string]string{"Unknown-Expiry-Days": "45", importer.MetaConfirmPerDay: "7"}}); err != nil {
			t.Fatal(err)
		}
	}
	put("first version\n")

	body, etag, meta, err := objects.Open(ctx, bucket, key, "")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "first version\n" || etag == "" || strings.Contains(etag, `"`) {
		t.Errorf("Open = %q, etag %q", b, etag)
	}
	if meta[importer.MetaUnknownExpiry] != "45" || meta[importer.MetaConfirmPerDay] != "7" || len(meta) != 2 {
		t.Errorf("metadata = %v, want %s=45 and %s=7", meta, importer.MetaUnknownExpiry, importer.MetaConfirmPerDay)
	}

	t.Run("the same file", func(t *testing.T) {
		body, got, _, err := objects.Open(ctx, bucket, key, etag)
		if err != nil || got != etag {
			t.Fatalf("Open with its own ETag: %q, %v", got, err)
		}
		body.Close()
	})
	t.Run("a replaced file", func(t *testing.T) {
		put("second version\n")
		_, _, _, err := objects.Open(ctx, bucket, key, etag)
		var e *s3object.Error
		if err == nil || !strings.Contains(err.Error(), "the file was replaced while it was being imported") ||
			!errors.As(err, &e) || e.StatusCode != 412 || e.Code != "PreconditionFailed" {
			t.Fatalf("Open of a replaced file: %v, want the replaced-file error over 412 PreconditionFailed", err)
		}
		if errors.Is(err, importer.ErrNoObject) {
			t.Error("a replaced file is not a missing one")
		}
	})
	t.Run("a missing file", func(t *testing.T) {
		if _, _, _, err := objects.Open(ctx, bucket, "imports/never-uploaded.csv", ""); !errors.Is(err, importer.ErrNoObject) {
			t.Errorf("Open of a missing key: %v, want ErrNoObject", err)
		}
		if _, _, _, err := objects.Open(ctx, bucket, "imports/never-uploaded.csv", etag); !errors.Is(err, importer.ErrNoObject) {
			t.Errorf("Open of a missing key with If-Match: %v, want ErrNoObject", err)
		}
	})
	t.Run("a missing bucket is not a missing file", func(t *testing.T) {
		_, _, _, err := objects.Open(ctx, bucket+"-gone", key, "")
		var e *s3object.Error
		if errors.Is(err, importer.ErrNoObject) || !errors.As(err, &e) || e.Code != "NoSuchBucket" {
			t.Errorf("Open in a missing bucket: %v, want NoSuchBucket", err)
		}
	})
	t.Run("the report", func(t *testing.T) {
		rk := importer.ReportPrefix + key + ".report.json"
		if err := objects.PutReport(ctx, bucket, rk, []byte(`{"rows":1}`)); err != nil {
			t.Fatal(err)
		}
		out, err := sdk.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(rk)})
		if err != nil {
			t.Fatalf("the SDK reads the report: %v", err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != `{"rows":1}` || aws.ToString(out.ContentType) != "application/json" {
			t.Errorf("report = %q (%s)", b, aws.ToString(out.ContentType))
		}
		if err := objects.Delete(ctx, bucket, rk); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRefusesWhatCouldAddressAnotherResource: a bucket name S3 could not have
// given is refused before anything is sent.
func TestRefusesWhatCouldAddressAnotherResource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hc := &capture{}
	c, err := s3object.NewFromConfig(ctx, aws.Config{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, bucket, key string }{
		{"a bucket with a path", "evil.example/steal", "k"},
		{"a bucket with a fragment", "b#x", "k"},
		{"a bucket with a host", "evil.com:443@b", "k"},
		{"an empty bucket", "", "k"},
		{"an empty key", "import-bucket", ""},
		{"a key too long", "import-bucket", strings.Repeat("k", 1025)},
	}
	for _, tt := range tests {
		if err := c.DeleteObject(ctx, tt.bucket, tt.key); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
		if hc.req != nil {
			t.Fatalf("%s: sent %s", tt.name, hc.req.URL)
		}
	}
}
