// Command echo is a Lambda function for the runtime API's tests: it echoes its event,
// fails on {"fail":true}, and fails its init when ECHO_INIT_FAIL is set.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	if os.Getenv("ECHO_INIT_FAIL") != "" {
		panic("init failed on purpose")
	}
	lambda.Start(func(ctx context.Context, ev json.RawMessage) (map[string]any, error) {
		var in struct{ Fail bool }
		_ = json.Unmarshal(ev, &in)
		if in.Fail {
			return nil, errors.New("failed on purpose")
		}
		lc, _ := lambdacontext.FromContext(ctx)
		return map[string]any{"event": ev, "requestId": lc.AwsRequestID, "function": lambdacontext.FunctionName}, nil
	})
}
