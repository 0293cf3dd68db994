package reminder

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"github.com/spapi-auth-keeper/keeper/shared/appnotify"
	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// AppNotifier posts a reminder stage's app notification in Seller Central
// (*appnotify.Channel).
type AppNotifier interface {
	Post(ctx context.Context, a authz.Authorization, expiryDate, renewalURL string) (string, error)
}

// appNotificationStore records the notification's outcome on the stage (the ledger).
type appNotificationStore interface {
	RecordAppNotification(ctx context.Context, c authz.ReminderClaim, id, errText string) error
}

// notifyApp posts the app notification of a pre-expiry stage just sent, under the
// same claim as the email, so it too is posted once per stage; its outcome goes on
// the stage. It never fails the reminder: the email is the channel of record.
func (s *Sender) notifyApp(ctx context.Context, log *slog.Logger, c authz.ReminderClaim, a authz.Authorization, job Job, e Email) {
	if s.cfg.AppNotifier == nil || job.Stage == StageReconnect {
		return
	}
	if days, err := strconv.Atoi(job.Stage); err != nil || days > 0 {
		return // after expiry Amazon refuses calls for the seller: the email alone goes
	}
	id, err := s.cfg.AppNotifier.Post(ctx, a, e.ExpiryDate, e.Link)
	if errors.Is(err, appnotify.ErrSkipped) {
		return
	}
	errText := ""
	if err != nil {
		errText = err.Error()
		log.WarnContext(ctx, "app notification not posted", "error", err)
	} else {
		log.InfoContext(ctx, "app notification posted", "notificationId", id)
	}
	if st, ok := s.store.(appNotificationStore); ok {
		if err := st.RecordAppNotification(context.WithoutCancel(ctx), c, id, errText); err != nil {
			log.WarnContext(ctx, "app notification outcome not recorded", "error", err)
		}
	}
}
