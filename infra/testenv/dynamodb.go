package testenv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/shared/store"
)

// DynamoDB returns the production DynamoDB client pointed at DynamoDB Local.
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	url := endpoint(t, emulators.EnvDynamoDB)
	return dynamodb.NewFromConfig(Config(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = fastRetryer()
	})
}

// NewTable creates a table with the project's schema (store.CreateTable: keys, the
// three GSIs, TTL) under a name unique to this test, and deletes it when the test ends.
func NewTable(t testing.TB) string {
	t.Helper()
	client := DynamoDB(t)
	// DynamoDB table names: 3 to 255 of letters, digits, '_', '-' and '.'.
	name := resourceName(t, "", 255)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.CreateTable(ctx, client, name); err != nil {
		t.Fatalf("testenv: create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var gone *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &gone) {
			t.Errorf("testenv: delete table %s: %v", name, err)
		}
	})
	return name
}
