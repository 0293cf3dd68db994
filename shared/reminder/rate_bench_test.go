package reminder

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/spapi-auth-keeper/keeper/infra/testenv"
	"github.com/spapi-auth-keeper/keeper/shared/pace"
)

// BenchmarkSESRateTable measures the senders' pacing where SES sees it: for
// SES_MAX_PER_SECOND of 1, 3, 14 and 50 shared by 1 to 4 senders (each its own pacer on
// one budget in DynamoDB Local, as each Lambda instance has, reserving times for a
// batch of ten and sending it ten at a time), every SendEmail's arrival at
// aws-ses-v2-local is timed by a proxy in front of it. It prints the achieved rate over
// the configured one (goal ≥ 0.95) and the busiest one-second window over it (goal ≤ 1).
//
//	go test -run '^$' -bench SESRateTable -benchtime 1x ./shared/reminder
func BenchmarkSESRateTable(b *testing.B) {
	ses, _ := testenv.SESv2(b)
	db, table := testenv.DynamoDB(b), testenv.NewTable(b)
	proxyURL, arrivals := testenv.TimingProxy(b, aws.ToString(ses.Options().BaseEndpoint))
	client := sesv2.New(ses.Options(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(proxyURL) })
	to := testenv.NewRecipient(b)
	var out strings.Builder
	out.WriteString("\n| SES rate/s | senders | sends | achieved / rate | busiest second / rate |\n|---:|---:|---:|---:|---:|\n")
	for _, total := range []float64{1, 3, 14, 50} {
		seconds := math.Max(4, 8/total)
		for senders := 1; senders <= 4; senders++ {
			calls := int(math.Ceil(total * seconds))
			arrivals.Reset()
			budget := fmt.Sprintf("ses-%v-%d", total, senders)
			var wg sync.WaitGroup
			for w := range senders {
				p, err := pace.New(db, table, budget, total)
				if err != nil {
					b.Fatal(err)
				}
				mine := calls / senders
				if w < calls%senders {
					mine++
				}
				wg.Go(func() {
					for done := 0; done < mine; done += 10 {
						batch := min(10, mine-done)
						p.Reserve(batch)
						var inner sync.WaitGroup
						for range batch {
							inner.Go(func() {
								if err := p.Wait(context.Background()); err != nil {
									b.Error(err)
									return
								}
								_, err := client.SendEmail(context.Background(), &sesv2.SendEmailInput{
									FromEmailAddress: aws.String("keeper@example.com"),
									Destination:      &sestypes.Destination{ToAddresses: []string{to}},
									Content: &sestypes.EmailContent{Simple: &sestypes.Message{
										Subject: &sestypes.Content{Data: aws.String("rate")},
										Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("rate")}},
									}},
								})
								if err != nil {
									b.Error(err)
								}
							})
						}
						inner.Wait()
					}
				})
			}
			wg.Wait()
			got := arrivals.Times()
			achieved := testenv.Rate(got) / total
			peak := float64(testenv.Busiest(got, time.Second)) / total
			fmt.Fprintf(&out, "| %.0f | %d | %d | %.3f | %.2f |\n", total, senders, len(got), achieved, peak)
		}
	}
	fmt.Print(out.String()) // b.Log keeps only ten lines of a benchmark's output
}
