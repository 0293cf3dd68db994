package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/importer"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// keeperctl import --remote s3://<ImportBucketName>/imports/sellers.csv sellers.csv
// checks the file here (a dry run: a wrong header is refused before anything leaves
// the machine), uploads it to the stack's import bucket, and watches the import the
// stack runs through its progress item until the report is ready. Ctrl-C stops the
// watching, not the import.

// S3EndpointEnv is the SDK's own S3 endpoint variable (an emulator).
const S3EndpointEnv = "AWS_ENDPOINT_URL_S3"

// RemotePollEvery is how often --remote reads the import's progress.
var RemotePollEvery = 2 * time.Second

func (c *CLI) remoteImport(ctx context.Context, g Globals, f importFlags, file string, unknown time.Duration) error {
	u, err := url.Parse(f.remote)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return fmt.Errorf("--remote %q: want s3://<the stack's ImportBucketName>/imports/<name>: %w", f.remote, errUsage)
	}
	key := strings.TrimPrefix(u.Path, "/")
	if key == "" || strings.HasSuffix(key, "/") {
		key += filepath.Base(file)
	}
	if !strings.HasPrefix(key, importer.ImportPrefix) || path.Clean(key) != key {
		return fmt.Errorf("--remote: the stack imports only files under %s (s3://%s/%s%s): %w", importer.ImportPrefix, u.Host, importer.ImportPrefix, filepath.Base(file), errUsage)
	}
	if file == "-" {
		return fmt.Errorf("--remote uploads a file: name it rather than standard input: %w", errUsage)
	}
	// Check the whole file here first: nothing leaves the machine if it is refused.
	in, _, name, closeIn, err := c.openInput(file)
	if err != nil {
		return err
	}
	dry, err := importer.New(importer.Config{DryRun: true, Source: name}, importer.Deps{Clock: authz.ClockFunc(func() time.Time { return c.Now().UTC() })}).Run(ctx, in)
	closeIn()
	if err != nil {
		return err
	}
	if f.dryRun {
		return c.finishImport(g, f.report, dry, nil)
	}
	if n := dry.Counts[importer.OutcomeRejected]; n > 0 {
		fmt.Fprintf(c.Stderr, "keeperctl: %d rows will be rejected (see the report at the end); the others are imported\n", n)
	}
	sess, err := c.Session(ctx, g)
	if err != nil {
		return err
	}
	endpoint := sess.Endpoints[S3EndpointEnv]
	if endpoint == "" {
		endpoint = c.Getenv(S3EndpointEnv)
	}
	client := s3.NewFromConfig(sess.Config, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true // an emulator serves buckets by path
		}
	})
	body, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer body.Close()
	meta := map[string]string{importer.MetaUnknownExpiry: strconv.Itoa(int(unknown / (24 * time.Hour)))}
	if f.confirmPerDay > 0 {
		meta[importer.MetaConfirmPerDay] = strconv.Itoa(f.confirmPerDay)
	}
	// The bucket encrypts with the stack's key by default; If-None-Match keeps a
	// second upload from replacing a file whose import is running.
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.Host), Key: aws.String(key), Body: body,
		IfNoneMatch: aws.String("*"), Metadata: meta, ContentType: aws.String("text/plain")})
	if err != nil {
		return fmt.Errorf("upload s3://%s/%s (an import of that name may be running; choose another name): %w", u.Host, key, err)
	}
	fmt.Fprintf(c.Stderr, "uploaded to s3://%s/%s; the stack imports it (Ctrl-C stops watching, not the import)\n", u.Host, key)
	return c.watchImport(ctx, g, f, store.New(sess.DynamoDB(), sess.Globals.Table), importer.ImportID(key))
}

// watchImport follows an import's progress item until it is done or failed.
func (c *CLI) watchImport(ctx context.Context, g Globals, f importFlags, st *store.Store, id string) error {
	bar := c.progressPrinter(f.progress, 0)
	started := time.Now()
	for {
		s, err := st.ImportStatus(ctx, id)
		switch {
		case errors.Is(err, authz.ErrNotFound):
			// S3 has not delivered the notification yet.
		case err != nil:
			bar.end()
			return err
		case s.State == importer.StateDone || s.State == importer.StateFailed:
			bar.end()
			var rep importer.Report
			if err := json.Unmarshal([]byte(s.Report), &rep); err != nil {
				return fmt.Errorf("import %s ended (%s) but its report is unreadable: %w", id, s.State, err)
			}
			var runErr error
			if s.State == importer.StateFailed {
				runErr = errors.New(s.Error)
			}
			return c.finishImport(g, f.report, &rep, runErr)
		default:
			counts := map[importer.Outcome]int{}
			for k, v := range s.Counts {
				counts[importer.Outcome(k)] = v
			}
			bar.update(importer.Progress{Rows: s.Rows, Counts: counts, LWACalls: s.LWACalls, Elapsed: time.Since(started)})
		}
		select {
		case <-ctx.Done():
			bar.end()
			return fmt.Errorf("stopped watching; the import goes on in the stack (its report will be at reports/%s.report.json): %w", id, ctx.Err())
		case <-time.After(RemotePollEvery):
		}
	}
}
