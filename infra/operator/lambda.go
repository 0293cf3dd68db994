package operator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// LambdaInvoker calls the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations)
// with a SigV4-signed request: the one Lambda operation the operator needs, without
// another SDK module. Endpoint is AWS_ENDPOINT_URL_LAMBDA when set (the local stack),
// else Lambda's regional endpoint.
type LambdaInvoker struct {
	Config   aws.Config
	Endpoint string
	HTTP     *http.Client
}

// Invoke runs function synchronously. A function error (X-Amz-Function-Error) is an
// error carrying the function's errorType and errorMessage.
func (l LambdaInvoker) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	base := l.Endpoint
	if base == "" {
		base = "https://lambda." + l.Config.Region + ".amazonaws.com"
	}
	u := strings.TrimRight(base, "/") + "/2015-03-31/functions/" + url.PathEscape(function) + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	creds, err := l.Config.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	sum := sha256.Sum256(payload)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "lambda", l.Config.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign the Lambda request: %w", err)
	}
	client := l.HTTP
	if client == nil {
		// The refresh function's own timeout (300 s) bounds the call.
		client = &http.Client{Timeout: 310 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20+1))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read answer: %w", function, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
			Msg     string `json:"Message"`
		}
		_ = json.Unmarshal(body, &e)
		msg := e.Message + e.Msg
		if msg == "" {
			msg = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("invoke %s: HTTP %d %s: %s", function, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), msg)
	}
	if fe := resp.Header.Get("X-Amz-Function-Error"); fe != "" {
		var e struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, fmt.Errorf("%s failed (%s): %s: %s", function, fe, e.Type, e.Message)
	}
	return body, nil
}
