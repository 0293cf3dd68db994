package operator

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/spapi-auth-keeper/keeper/infra/localstate"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

// Session is the deployment a command acts on: the SDK configuration, the endpoints
// (the local stack's emulators, or AWS's), and the names the flags or the stack give.
type Session struct {
	Config    aws.Config
	Endpoints map[string]string
	Globals   Globals
	Stack     *localstate.State // --local only
}

// Session resolves g: against the local stack with --local (its endpoints and names
// from its state file), otherwise against AWS with the default credential chain.
func (c *CLI) Session(ctx context.Context, g Globals) (*Session, error) {
	s := &Session{Endpoints: map[string]string{}}
	if g.Local {
		st, err := c.localStack()
		if err != nil {
			return nil, err
		}
		s.Stack = &st
		s.Config = localstate.Config()
		s.Endpoints = st.Env
		fill := func(dst *string, key string) {
			if *dst == "" {
				*dst = st.Env[key]
			}
		}
		fill(&g.Table, "KEEPER_TABLE")
		fill(&g.SecretPrefix, "KEEPER_SECRET_PREFIX")
		fill(&g.BaseURL, "KEEPER_BASE_URL")
		fill(&g.RefreshFunction, "KEEPER_REFRESH_FUNCTION")
	} else {
		var err error
		if s.Config, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return nil, fmt.Errorf("AWS configuration: %w", err)
		}
		s.Endpoints[localstate.EnvLambda] = c.Getenv(localstate.EnvLambda)
	}
	if g.Table == "" {
		return nil, fmt.Errorf("%w: --table is required (the stack's TableName output), or --local for the local stack", ErrNotConfigured)
	}
	if g.SecretPrefix == "" {
		g.SecretPrefix = "spapi-keeper" // template.yaml's default SecretPrefix
	}
	s.Globals = g
	return s, nil
}

// localStack reads the state of the stack `make run` started: the one of c.Root when
// set, else the one of the repository the working directory is in, else the one the
// running stack recorded, so that --local works from any directory for every command.
func (c *CLI) localStack() (localstate.State, error) {
	if c.Root != "" {
		return localstate.ReadState(c.Root)
	}
	wd, err := os.Getwd()
	if err != nil {
		return localstate.State{}, err
	}
	return localstate.Find(wd)
}

// DynamoDB is a client of the ledger's DynamoDB.
func (s *Session) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(s.Config, func(o *dynamodb.Options) {
		if u := s.Endpoints[localstate.EnvDynamoDB]; u != "" {
			o.BaseEndpoint = aws.String(u)
		}
	})
}

// Vault is the deployment's vault, packed as the functions' is; kmsKeyID encrypts the
// secrets it creates.
func (s *Session) Vault(kmsKeyID string) *vault.Vault {
	sm := secretsmanager.NewFromConfig(s.Config, func(o *secretsmanager.Options) {
		if u := s.Endpoints[localstate.EnvSecretsManager]; u != "" {
			o.BaseEndpoint = aws.String(u)
		}
	})
	v := vault.New(sm, s.Globals.SecretPrefix, kmsKeyID).WithLogger(slog.New(slog.DiscardHandler))
	if s.Globals.Table == "" {
		return v // no ledger to keep the packed layout's index in: one secret per authorization
	}
	return v.WithTable(s.DynamoDB(), s.Globals.Table, vault.LayoutPacked, vault.Packing{})
}

// FunctionEnv is a variable of a function of the local stack ("" against AWS).
func (s *Session) FunctionEnv(function, name string) string {
	if s.Stack == nil {
		return ""
	}
	return s.Stack.Functions[function].Env[name]
}
