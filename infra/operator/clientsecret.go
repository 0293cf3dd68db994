package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/shared/rotation"
)

// keeperctl client-secret: the vendor's own LWA client secret, through the deployed
// credentials function (a direct invocation, so the operator needs lambda:InvokeFunction
// on it and nothing else).
//
//	keeperctl client-secret status   days left, the rotation pending, the last rotation, its history
//	keeperctl client-secret rotate   request a rotation now (unless one is pending)

// ErrRotationFailed: the credentials function could not request a rotation.
var ErrRotationFailed = errors.New("the rotation request failed")

// CredentialsFunctionEnv names the deployed CredentialsFunction (the stack's
// CredentialsFunctionName output) when --credentials-function is not given.
const CredentialsFunctionEnv = "KEEPER_CREDENTIALS_FUNCTION"

// ClientSecretStatus asks the credentials function for the client secret's status.
func ClientSecretStatus(ctx context.Context, inv Invoker, function string) (rotation.Status, error) {
	var st rotation.Status
	err := invokeCredentials(ctx, inv, function, rotation.ActionStatus, &st)
	return st, err
}

// ClientSecretRotate asks the credentials function to request a rotation now. A
// rotation pending already is not an error: nothing is done.
func ClientSecretRotate(ctx context.Context, inv Invoker, function string) (rotation.Result, error) {
	var r rotation.Result
	if err := invokeCredentials(ctx, inv, function, rotation.ActionRotate, &r); err != nil {
		return r, err
	}
	if r.Result == rotation.ResultFailed {
		return r, fmt.Errorf("%w (%s): %s", ErrRotationFailed, r.Reason, r.Error)
	}
	return r, nil
}

func invokeCredentials(ctx context.Context, inv Invoker, function, action string, v any) error {
	if function == "" || inv == nil {
		return fmt.Errorf("%w: --credentials-function is required (the stack's CredentialsFunctionName output; env %s), or --local",
			ErrNotConfigured, CredentialsFunctionEnv)
	}
	out, err := inv.Invoke(ctx, function, []byte(`{"action":"`+action+`"}`))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("%s answered %.200q, not a client secret %s", function, out, action)
	}
	return nil
}

// clientSecret runs `keeperctl client-secret <status|rotate>`.
func (c *CLI) clientSecret(ctx context.Context, g Globals, args []string) error {
	function := c.Getenv(CredentialsFunctionEnv)
	fs := c.flags("client-secret", &g)
	fs.StringVar(&function, "credentials-function", function, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "status" && pos[0] != "rotate") {
		return fmt.Errorf("client-secret needs status or rotate (keeperctl client-secret status): %w", errUsage)
	}
	inv, function, err := c.credentialsInvoker(ctx, g, function)
	if err != nil {
		return err
	}
	if pos[0] == "status" {
		st, err := ClientSecretStatus(ctx, inv, function)
		if err != nil {
			return err
		}
		if g.JSON {
			return c.printJSON(st)
		}
		writeClientSecret(c.Stdout, st)
		return nil
	}
	r, err := ClientSecretRotate(ctx, inv, function)
	if err != nil {
		return err
	}
	if g.JSON {
		return c.printJSON(r)
	}
	switch r.Result {
	case rotation.ResultPending:
		fmt.Fprintf(c.Stdout, "a rotation is already pending since %s: nothing done (the new secret has not arrived yet)\n", stamp(r.PendingSince))
	default:
		fmt.Fprintln(c.Stdout, "rotation requested: Amazon sends the new secret to the notifications queue, and the credentials function stores it once LWA accepts it; `keeperctl client-secret status` shows when")
	}
	return nil
}

// credentialsInvoker is the Lambda Invoke API of the local stack (--local) or of AWS
// (the default credential chain; AWS_ENDPOINT_URL_LAMBDA applies).
func (c *CLI) credentialsInvoker(ctx context.Context, g Globals, function string) (Invoker, string, error) {
	if g.Local {
		st, err := c.localStack()
		if err != nil {
			return nil, "", err
		}
		if function == "" {
			function = st.Env[CredentialsFunctionEnv]
		}
		return LambdaInvoker{Config: localstate.Config(), Endpoint: st.Env[localstate.EnvLambda]}, function, nil
	}
	if function == "" {
		return nil, "", fmt.Errorf("%w: --credentials-function is required (the stack's CredentialsFunctionName output; env %s), or --local",
			ErrNotConfigured, CredentialsFunctionEnv)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("AWS configuration: %w", err)
	}
	return LambdaInvoker{Config: cfg, Endpoint: c.Getenv(localstate.EnvLambda)}, function, nil
}

func writeClientSecret(w io.Writer, st rotation.Status) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	expires := "unknown: record clientSecretExpiresAt in the lwa-client secret"
	if st.DaysLeft != nil {
		expires = fmt.Sprintf("%s (%d days left)", stamp(st.ExpiresAt), *st.DaysLeft)
	}
	pending := "no"
	if !st.PendingSince.IsZero() {
		pending = fmt.Sprintf("since %s (%s)", stamp(st.PendingSince), st.PendingTrigger)
	}
	rotates := "-"
	if !st.RotatesFrom.IsZero() {
		rotates = fmt.Sprintf("%s (ROTATE_BEFORE %s)", day(st.RotatesFrom), st.RotateBefore)
	}
	for _, kv := range [][2]string{
		{"client id", dash(st.ClientID)}, {"expires", expires}, {"rotates from", rotates}, {"rotation pending", pending},
		{"last requested", stamp(st.LastRequestedAt)}, {"last rotated", stamp(st.LastRotatedAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	if len(st.History) > 0 {
		fmt.Fprintln(w, "\nhistory (newest first):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, e := range st.History {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", stamp(e.At), e.Kind, strings.TrimSpace(e.Detail))
		}
		tw.Flush()
	}
}
