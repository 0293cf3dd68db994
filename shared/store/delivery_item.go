package store

import (
	"time"

	"github.com/spapi-auth-keeper/keeper/shared/authz"
)

// Attribute names of a reminder entry's delivery fields, as SES's events set them.
const (
	attrAcceptedAt   = "acceptedAt"
	attrDeliveredAt  = "deliveredAt"
	attrBouncedAt    = "bouncedAt"
	attrSoftBounceAt = "softBounceAt"
	attrComplainedAt = "complainedAt"
	attrDelayedAt    = "delayedAt"
	attrFailedAt     = "failedAt"
	attrOpenedAt     = "openedAt"
	attrDetail       = "deliveryDetail"
)

func (r reminderItem) withDelivery(d authz.Delivery) reminderItem {
	r.AcceptedAt = formatTime(d.AcceptedAt)
	r.DeliveredAt = formatTime(d.DeliveredAt)
	r.BouncedAt = formatTime(d.BouncedAt)
	r.SoftBounceAt = formatTime(d.SoftBounceAt)
	r.ComplainedAt = formatTime(d.ComplainedAt)
	r.DelayedAt = formatTime(d.DelayedAt)
	r.FailedAt = formatTime(d.FailedAt)
	r.OpenedAt = formatTime(d.OpenedAt)
	r.Detail = d.Detail
	r.AppNoteID, r.AppNoteError = d.AppNotificationID, d.AppNotificationError
	return r
}

func (r reminderItem) delivery(stage string) (authz.Delivery, error) {
	d := authz.Delivery{Detail: r.Detail, AppNotificationID: r.AppNoteID, AppNotificationError: r.AppNoteError}
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Time
	}{
		{attrAcceptedAt, r.AcceptedAt, &d.AcceptedAt}, {attrDeliveredAt, r.DeliveredAt, &d.DeliveredAt},
		{attrBouncedAt, r.BouncedAt, &d.BouncedAt}, {attrSoftBounceAt, r.SoftBounceAt, &d.SoftBounceAt},
		{attrComplainedAt, r.ComplainedAt, &d.ComplainedAt}, {attrDelayedAt, r.DelayedAt, &d.DelayedAt},
		{attrFailedAt, r.FailedAt, &d.FailedAt}, {attrOpenedAt, r.OpenedAt, &d.OpenedAt},
	} {
		t, err := parseTime("remindersSent."+stage+"."+f.name, f.v)
		if err != nil {
			return d, err
		}
		*f.dst = t
	}
	return d, nil
}
