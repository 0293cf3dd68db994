package secretsemu

// DescribeSecret, DeleteSecret and RestoreSecret: a secret's life.

import (
	"fmt"
	"strings"
	"time"
)

type secretIDInput struct {
	SecretId string
}

type describeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	Description        *string             `json:"Description,omitempty"`
	KmsKeyId           string              `json:"KmsKeyId,omitempty"`
	Tags               []tag               `json:"Tags,omitempty"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
	CreatedDate        *epochTime          `json:"CreatedDate,omitempty"`
	LastChangedDate    *epochTime          `json:"LastChangedDate,omitempty"`
	LastAccessedDate   *epochTime          `json:"LastAccessedDate,omitempty"`
	DeletedDate        *epochTime          `json:"DeletedDate,omitempty"`
	PrimaryRegion      string              `json:"PrimaryRegion,omitempty"`
}

func (s *Server) describeSecret(body []byte) (any, *apiError) {
	var in secretIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	r, e := s.find(in.SecretId)
	if e != nil {
		return nil, e
	}
	return describeSecretOutput{
		ARN:                r.arn,
		Name:               r.name,
		Description:        r.description,
		KmsKeyId:           r.kmsKeyID,
		Tags:               r.tagList(),
		VersionIdsToStages: r.versionsToStages(),
		CreatedDate:        stamp(r.created),
		LastChangedDate:    stamp(r.lastChanged),
		LastAccessedDate:   stamp(r.lastAccessed),
		DeletedDate:        stamp(r.deletedAt),
		PrimaryRegion:      Region,
	}, nil
}

// --- DeleteSecret and RestoreSecret ---

type deleteSecretInput struct {
	SecretId                   string
	RecoveryWindowInDays       *int64
	ForceDeleteWithoutRecovery *bool
}

type deleteSecretOutput struct {
	ARN          string     `json:"ARN,omitempty"`
	Name         string     `json:"Name,omitempty"`
	DeletionDate *epochTime `json:"DeletionDate,omitempty"`
}

func (s *Server) deleteSecret(body []byte) (any, *apiError) {
	var in deleteSecretInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	if force && in.RecoveryWindowInDays != nil {
		return nil, newError("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(defaultRecovery)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < minRecoveryDays || days > maxRecoveryDays {
			return nil, newError("InvalidParameterException", fmt.Sprintf("The RecoveryWindowInDays value must be between %d and %d days (inclusive).", minRecoveryDays, maxRecoveryDays))
		}
	}
	now := s.now()
	r, e := s.find(in.SecretId)
	if e != nil {
		// A forced delete of a secret that is already gone, or never was, succeeds:
		// AWS documents that it does not answer ResourceNotFoundException.
		if force {
			out := deleteSecretOutput{DeletionDate: stamp(now)}
			if strings.HasPrefix(in.SecretId, "arn:") {
				out.ARN = in.SecretId
			} else {
				out.Name = in.SecretId
			}
			return out, nil
		}
		return nil, e
	}
	if force {
		delete(s.secrets, r.name)
		return deleteSecretOutput{ARN: r.arn, Name: r.name, DeletionDate: stamp(now)}, nil
	}
	if r.scheduledForDeletion() {
		return nil, newError("InvalidRequestException", "You can't delete secret "+r.name+" because it's already scheduled for deletion.")
	}
	r.deletedAt = now
	r.deleteAfter = now.Add(time.Duration(days) * 24 * time.Hour)
	r.lastChanged = now
	return deleteSecretOutput{ARN: r.arn, Name: r.name, DeletionDate: stamp(r.deleteAfter)}, nil
}

type arnNameOutput struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

func (s *Server) restoreSecret(body []byte) (any, *apiError) {
	var in secretIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	r, e := s.find(in.SecretId)
	if e != nil {
		return nil, e
	}
	if r.scheduledForDeletion() {
		r.deletedAt, r.deleteAfter = time.Time{}, time.Time{}
		r.lastChanged = s.now()
	}
	return arnNameOutput{ARN: r.arn, Name: r.name}, nil
}

// --- TagResource and UntagResource ---
