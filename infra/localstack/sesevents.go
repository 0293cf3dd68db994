package localstack

import (
	"context"
	"fmt"

	"github.com/spapi-auth-keeper/keeper/infra/emulators"
	"github.com/spapi-auth-keeper/keeper/infra/sesevents"
)

// ConfigurationSetName is the local name of the template's ReminderConfigurationSet.
func (s *Stack) ConfigurationSetName() string { return s.opts.Name + "-reminders" }

// startSESEvents puts the SES event simulator in front of aws-ses-v2-local: the
// functions send through it, and the events SES would publish through the
// configuration set's EventBridge destination (mailbox simulator addresses bounce or
// complain) reach the functions whose EventBridgeRule matches source aws.ses, as an
// asynchronous invocation with Lambda's retries.
func (s *Stack) startSESEvents() error {
	sim, err := sesevents.New(s.endpoints[emulators.EnvSES], s.deliverSESEvent, sesevents.Options{
		Account: AccountID, Region: Region, ConfigurationSet: s.ConfigurationSetName(),
		Log: s.log.With("component", "sesevents"),
	})
	if err != nil {
		return fmt.Errorf("SES event simulator: %w", err)
	}
	ln, err := listenLocal(&s.SESEventsURL)
	if err != nil {
		return err
	}
	s.sesEvents = sim
	s.serve(ln, sim)
	return nil
}

func (s *Stack) deliverSESEvent(ctx context.Context, event []byte) error {
	for _, fn := range s.opts.Functions {
		f := s.functions[fn]
		if f == nil || !f.spec.SESEvents {
			continue
		}
		if _, err := s.invoke(f, ctx, event); err != nil {
			return err
		}
	}
	return nil
}

// WaitSESEvents waits until every SES event published so far has reached its function
// (or was given up after Lambda's retries).
func (s *Stack) WaitSESEvents() {
	if s.sesEvents != nil {
		s.sesEvents.Wait()
	}
}

func localeOr(l string) string {
	if l == "" {
		return "en-US"
	}
	return l
}
