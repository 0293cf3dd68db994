package costmodel_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/spapi-auth-keeper/keeper/infra/amazonsim"
	"github.com/spapi-auth-keeper/keeper/infra/costmodel"
	"github.com/spapi-auth-keeper/keeper/infra/ddbstream"
	"github.com/spapi-auth-keeper/keeper/infra/demo"
	"github.com/spapi-auth-keeper/keeper/infra/eventbridgeemu"
	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/infra/testenv/deploy"
	"github.com/spapi-auth-keeper/keeper/shared/app"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
	"github.com/spapi-auth-keeper/keeper/shared/awsclients"
	"github.com/spapi-auth-keeper/keeper/shared/config"
	"github.com/spapi-auth-keeper/keeper/shared/metrics"
	"github.com/spapi-auth-keeper/keeper/shared/refresh"
	"github.com/spapi-auth-keeper/keeper/shared/secret"
	"github.com/spapi-auth-keeper/keeper/shared/store"
	"github.com/spapi-auth-keeper/keeper/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

const (
	clientID     = "amzn1.application-oa2-client.costmodel"
	clientSecret = "amzn1.oa2-cs.v1.costmodel-client-secret"
)

// Memory sizes of template.yaml's functions (MB): the refresh and the scan 512, the
// others the Globals' 256.
var memoryMB = map[string]float64{"tokenrefresh": 512, "expiryscan": 512, "reminder": 256, "eventpublisher": 256}

// BenchmarkAuthorizationDay runs one day of the keeper at COST_BENCH_N (10,000)
// authorizations against the emulators: the 24 hourly sweeps and every refresh they
// queue, the daily expiry scan and every reminder it queues, each function built as
// its main builds it, with every AWS call counted at the client (and DynamoDB's
// consumed capacity). It prints the calls per authorization-day and the cost table
// computed from them (costmodel.Table).
//
//	COST_BENCH_N=10000 go test -run '^$' -bench AuthorizationDay -benchtime 1x ./infra/costmodel
func BenchmarkAuthorizationDay(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("COST_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	calls := testenv.NewCalls()
	ddb := dynamodb.New(testenv.DynamoDB(b).Options(), func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	smRaw, _ := testenv.SecretsManagerInProcess(b)
	sm := secretsmanager.New(smRaw.Options(), func(o *secretsmanager.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	sqsRaw := testenv.SQS(b)
	sqsc := sqs.New(sqsRaw.Options(), func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	sesRaw, _ := testenv.SESv2(b)
	ses := sesv2.New(sesRaw.Options(), func(o *sesv2.Options) { o.APIOptions = append(o.APIOptions, calls.Middleware) })
	table := testenv.NewTable(b)
	refreshURL := testenv.NewQueue(b, "refresh")
	reminderURL := testenv.NewQueue(b, "reminders")
	sim := amazonsim.New(amazonsim.Config{ClientID: clientID, ClientSecret: clientSecret})
	lwaSrv := httptest.NewServer(sim)
	b.Cleanup(lwaSrv.Close)

	prefix := testenv.Prefix(b)
	// The budgets are paced as deployed (shared/pace), at rates the workers here keep
	// ahead of, so that a batch's reserved call times are used as in AWS rather than
	// passing while a busy worker catches up (which would count extra reservations).
	cfg := config.Config{
		TableName: table, SecretPrefix: prefix, RefreshQueueURL: refreshURL, ReminderQueueURL: reminderURL,
		LWAEndpoint: lwaSrv.URL + "/auth/o2/token", RefreshInterval: 24 * time.Hour, RefreshMaxPerSecond: 50,
		ReminderStages: config.DefaultReminderStages, AppName: "Cost Model", BaseURL: "https://keeper.example.com",
		SenderEmail: "keeper@example.com", SESMaxPerSecond: 50, LinkTTL: 45 * 24 * time.Hour,
	}
	clients := awsclients.Clients{DynamoDB: ddb, Secrets: sm}
	v := vault.New(smRaw, prefix, "").WithLogger(slog.New(slog.DiscardHandler))
	must(b, v.PutClientCredentials(ctx, vault.ClientCredentials{ClientID: clientID, ClientSecret: secret.Value(clientSecret), ClientSecretExpiresAt: time.Now().AddDate(0, 3, 0)}))
	must(b, v.PutStateKey(ctx, secret.Value(demo.StateKey)))

	// n authorizations granted on days spread evenly over the past year, their tokens
	// in the deployment's vault (the packed layout, 50 to a bucket secret), written
	// as an import writes them: each bucket once.
	now := time.Now().UTC()
	st := store.New(testenv.DynamoDB(b), table)
	seedVault := app.Deps{Config: cfg, Clients: awsclients.Clients{DynamoDB: testenv.DynamoDB(b), Secrets: smRaw}, Log: slog.New(slog.DiscardHandler)}.Vault()
	seed := func(first int) {
		var entries []vault.Entry
		var records []authz.Authorization
		for i := first; i < min(first+50, n); i++ {
			id := fmt.Sprintf("cost-%07d", i)
			seller := fmt.Sprintf("ACOST%07d", i)
			at := now.Add(-time.Duration(rand.Int64N(int64(365 * 24 * time.Hour))))
			entries = append(entries, vault.Entry{ConnectionID: id, Region: authz.RegionEU,
				Token: vault.RefreshToken{Token: secret.Value(sim.IssueRefreshToken(seller)), SellingPartnerID: seller, Region: authz.RegionEU, AuthorizedAt: at}})
			records = append(records, authz.Authorization{ConnectionID: id, Region: authz.RegionEU, AccountType: authz.AccountSeller, Marketplace: "DE",
				SellingPartnerID: seller, ContactEmail: id + "@example.com", Locale: "en-GB", Status: authz.StatusActive,
				AuthorizedAt: at, ExpiresAt: at.Add(authz.Lifetime), LastRefreshAt: at.Add(-24 * time.Hour),
				RefreshSlot: authz.SlotFor(id, authz.RegionEU, authz.DefaultRefreshSlots)})
		}
		ids, err := seedVault.PutMany(ctx, entries)
		must(b, err)
		for i, a := range records {
			a.SecretID = ids[i]
			_, err = st.Create(ctx, a)
			must(b, err)
		}
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				seed(i)
			}
		})
	}
	for i := 0; i < n; i += 50 {
		work <- i
	}
	close(work)
	wg.Wait()

	// The table's stream, read from here on: the day's history items reach the event
	// publisher through it, as in AWS (the seeding's records are passed over).
	stream, err := ddbstream.New(ctx, testenv.DynamoDB(b), testenv.DynamoDBStreams(b), table)
	must(b, err)
	_, err = stream.Poll(ctx, func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, nil
	})
	must(b, err)

	logs := map[string]*bytes.Buffer{"tokenrefresh": {}, "expiryscan": {}, "reminder": {}, "eventpublisher": {}}
	deps := func(fn string) app.Deps {
		out := logs[fn]
		return app.Deps{Config: cfg, Clients: clients, Log: slog.New(slog.NewJSONHandler(out, nil)), Metrics: metrics.New(out)}
	}
	refreshH, refreshSvc, err := deploy.TokenRefresh(deps("tokenrefresh"), sqsc, nil, refresh.Config{})
	must(b, err)
	scan, err := deploy.ExpiryScan(deps("expiryscan"), sqsc)
	must(b, err)
	sender, err := deploy.Reminder(deps("reminder"), ses)
	must(b, err)
	bus := eventbridgeemu.New(nil)
	bus.CreateBus("keeper")
	busSrv := httptest.NewServer(bus)
	b.Cleanup(busSrv.Close)
	pd := deps("eventpublisher")
	pd.Clients.Config = testenv.Config()
	pd.Clients.Config.BaseEndpoint = aws.String(busSrv.URL)
	pd.Clients.Config.APIOptions = append(pd.Clients.Config.APIOptions, calls.Middleware)
	publisher, err := deploy.EventPublisher(pd, sqsc, func(name string) string {
		return map[string]string{"EVENT_BUS_NAME": "keeper"}[name]
	})
	must(b, err)
	calls.Reset()

	invocations := map[string]float64{}
	seconds := map[string]float64{}
	timed := func(fn string, f func()) {
		t := time.Now()
		f()
		invocations[fn]++
		seconds[fn] += time.Since(t).Seconds()
	}
	var pollerRequests float64
	drain := func(fn, url string, batch int, handle func(events.SQSEvent)) {
		for {
			ev := events.SQSEvent{}
			var handles []*string
			for len(ev.Records) < batch {
				out, err := sqsRaw.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0})
				must(b, err)
				pollerRequests++
				if len(out.Messages) == 0 {
					break
				}
				for _, m := range out.Messages {
					ev.Records = append(ev.Records, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body)})
					handles = append(handles, m.ReceiptHandle)
				}
			}
			if len(ev.Records) == 0 {
				return
			}
			timed(fn, func() { handle(ev) })
			for _, h := range handles { // Lambda deletes a batch's successes with DeleteMessageBatch
				_, err := sqsRaw.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: h})
				must(b, err)
			}
			pollerRequests += float64((len(handles) + 9) / 10)
		}
	}

	b.ResetTimer()
	day := now.Truncate(24 * time.Hour)
	for h := range 24 {
		timed("tokenrefresh", func() {
			_, err := refreshSvc.Sweep(ctx, day.Add(time.Duration(h)*time.Hour))
			must(b, err)
		})
		drain("tokenrefresh", refreshURL, 50, func(ev events.SQSEvent) { refreshH.HandleSQS(ctx, ev) })
	}
	timed("expiryscan", func() {
		_, err := scan.Run(ctx)
		must(b, err)
	})
	drain("reminder", reminderURL, 10, func(ev events.SQSEvent) {
		_, err := sender(ctx, ev)
		must(b, err)
	})
	// The day's stream records, through the event source's filter (new history items
	// only), each handed to the publisher on its own: at a keeper's rates (under one
	// event a second at 1,000,000 authorizations) a one-second batching window rarely
	// holds two, so one invocation per event is both the bound and the expectation.
	var domainEvents float64
	_, err = stream.Poll(ctx, func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		for _, rec := range ev.Records {
			if rec.EventName != "INSERT" || !strings.HasPrefix(rec.Change.Keys["sk"].String(), "EVENT#") {
				continue
			}
			domainEvents++
			timed("eventpublisher", func() {
				resp, err := publisher.Handle(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}})
				must(b, err)
				if len(resp.BatchItemFailures) > 0 {
					b.Fatalf("the publisher failed %v", resp.BatchItemFailures)
				}
			})
		}
		return events.DynamoDBEventResponse{}, nil
	})
	must(b, err)
	b.StopTimer()

	perAuth := func(x float64) float64 { return x / float64(n) }
	read, write, _ := calls.Units()
	d := costmodel.Day{Authorizations: n, DynamoReadUnits: perAuth(read), DynamoWriteUnits: perAuth(write),
		DynamoCalls: map[string]float64{}, SecretsCalls: map[string]float64{}, Invocations: map[string]float64{}, GBSeconds: map[string]float64{}}
	for k, c := range calls.Snapshot() {
		switch svc, op, _ := cut(k); svc {
		case "DynamoDB":
			d.DynamoCalls[op] = perAuth(float64(c))
		case "Secrets Manager":
			d.SecretsCalls[op] = perAuth(float64(c))
		case "SQS":
			d.SQSRequests += perAuth(float64(c))
		case "SESv2":
			if op == "SendEmail" {
				d.SESEmails += perAuth(float64(c))
			}
		case "EventBridge":
			d.EventBridgeCalls += perAuth(float64(c))
		}
	}
	d.SQSRequests += perAuth(pollerRequests)
	d.DomainEvents = perAuth(domainEvents)
	if got := len(bus.Events()); float64(got) != domainEvents {
		b.Fatalf("the bus got %d events for %.0f history items", got, domainEvents)
	}
	logBytes := 0
	for fn, buf := range logs {
		logBytes += buf.Len()
		d.Invocations[fn] = perAuth(invocations[fn])
		d.GBSeconds[fn] = perAuth(seconds[fn] * memoryMB[fn] / 1024)
		fmt.Printf("%s: %.0f invocations, %.1f s, %d log bytes\n", fn, invocations[fn], seconds[fn], buf.Len())
	}
	// In AWS a refresh invocation is paced by its share of the LWA budget (20/s over
	// the template's 2 workers: 0.1 s a refresh, its other refreshes waiting with it),
	// which the emulators' run at 1,000/s does not show: the larger figure counts.
	paced := float64(sim.Refreshes()) * 0.1 * memoryMB["tokenrefresh"] / 1024
	d.GBSeconds["tokenrefresh"] = max(d.GBSeconds["tokenrefresh"], perAuth(paced))
	d.LogBytes = perAuth(float64(logBytes))
	d.ItemBytes = 1500 // measured below when DescribeTable reports it
	if out, err := testenv.DynamoDB(b).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil && aws.ToInt64(out.Table.ItemCount) > 0 {
		d.ItemBytes = float64(aws.ToInt64(out.Table.TableSizeBytes)) / float64(n)
	}
	b.ReportMetric(d.DynamoWriteUnits, "WCU/auth-day")
	b.ReportMetric(d.DynamoReadUnits, "RCU/auth-day")
	fmt.Printf("calls in the day at %d authorizations:\n%s", n, calls)
	fmt.Printf("per authorization-day: %+v\n", d)
	b.Logf("refreshes done: %d (LWA)", sim.Refreshes())
	rows := costmodel.Table(d, costmodel.Sizes)
	fmt.Printf("\n%s", costmodel.Markdown(rows, costmodel.Sizes))
}

func cut(k string) (svc, op string, ok bool) {
	for i := len(k) - 1; i >= 0; i-- {
		if k[i] == '.' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
