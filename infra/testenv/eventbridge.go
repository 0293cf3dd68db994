package testenv

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/eventbridgeemu"
)

// EventBridge starts an EventBridge emulator for this test alone (its events and
// fault injection must not see other tests'), with a bus named bus, and returns the
// production client pointed at it. It stops when the test ends.
func EventBridge(t testing.TB, bus string) (*eventbridge.Client, *eventbridgeemu.Server) {
	t.Helper()
	emu := eventbridgeemu.New(nil)
	emu.CreateBus(bus)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return eventbridge.NewFromConfig(Config(), func(o *eventbridge.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.Retryer = fastRetryer()
	}), emu
}

// DynamoDBStreams returns the production DynamoDB Streams client pointed at DynamoDB
// Local, which serves the streams of its tables on the same endpoint.
func DynamoDBStreams(t testing.TB) *dynamodbstreams.Client {
	t.Helper()
	url := endpoint(t, emulators.EnvDynamoDB)
	return dynamodbstreams.NewFromConfig(Config(), func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = fastRetryer()
	})
}
