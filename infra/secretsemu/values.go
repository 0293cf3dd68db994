package secretsemu

// CreateSecret, GetSecretValue and PutSecretValue: a secret's values and versions.

import (
	"fmt"
	"time"
)

type createSecretInput struct {
	Name               string
	ClientRequestToken string
	Description        *string
	KmsKeyId           string
	SecretString       *string
	SecretBinary       []byte
	Tags               []tag
	AddReplicaRegions  []struct{ Region string }
}

type createSecretOutput struct {
	ARN       string `json:"ARN"`
	Name      string `json:"Name"`
	VersionId string `json:"VersionId,omitempty"`
}

func (s *Server) createSecret(body []byte) (any, *apiError) {
	var in createSecretInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validName(in.Name); e != nil {
		return nil, e
	}
	if e := validValue(in.SecretString, in.SecretBinary, false); e != nil {
		return nil, e
	}
	if e := validTags(in.Tags); e != nil {
		return nil, e
	}
	if in.Description != nil && len(*in.Description) > maxDescriptionLen {
		return nil, newError("ValidationException", fmt.Sprintf("Description must be at most %d characters.", maxDescriptionLen))
	}
	if len(in.AddReplicaRegions) > 0 {
		return nil, newError("InvalidRequestException", "replication to other regions is not implemented by this emulator")
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	token := in.ClientRequestToken
	if token == "" {
		token = newUUID()
	} else if e := validToken(token); e != nil {
		return nil, e
	}

	if existing, e := s.find(in.Name); e == nil {
		if existing.scheduledForDeletion() {
			return nil, newError("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// ClientRequestToken makes a retried CreateSecret harmless: a version with this
		// id and the same value means the request already succeeded; another value
		// can't replace an existing version.
		if v, ok := existing.versions[token]; ok && hasValue {
			if v.sameValue(in.SecretString, in.SecretBinary) {
				return createSecretOutput{ARN: existing.arn, Name: existing.name, VersionId: v.id}, nil
			}
		}
		return nil, newError("ResourceExistsException", "The operation failed because the secret "+in.Name+" already exists.")
	}

	now := s.now()
	r := &secretRecord{
		name:        in.Name,
		arn:         newARN(in.Name),
		description: in.Description,
		kmsKeyID:    in.KmsKeyId,
		tags:        make(map[string]string, len(in.Tags)),
		created:     now,
		lastChanged: now,
		versions:    make(map[string]*version),
		stages:      make(map[string]string),
	}
	for _, t := range in.Tags {
		r.tags[t.Key] = t.Value
	}
	out := createSecretOutput{ARN: r.arn, Name: r.name}
	if hasValue {
		r.addVersion(now, token, in.SecretString, in.SecretBinary, []string{StageCurrent})
		out.VersionId = token
	}
	s.secrets[r.name] = r
	return out, nil
}

// --- GetSecretValue ---

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

type getSecretValueOutput struct {
	ARN           string     `json:"ARN"`
	Name          string     `json:"Name"`
	VersionId     string     `json:"VersionId"`
	SecretString  *string    `json:"SecretString,omitempty"`
	SecretBinary  []byte     `json:"SecretBinary,omitempty"`
	VersionStages []string   `json:"VersionStages"`
	CreatedDate   *epochTime `json:"CreatedDate,omitempty"`
}

func (s *Server) getSecretValue(body []byte) (any, *apiError) {
	var in getSecretValueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	r, e := s.findLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	var v *version
	if in.VersionId != "" {
		v = r.versions[in.VersionId]
		if v == nil {
			return nil, newError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+in.VersionId)
		}
		if in.VersionStage != "" && r.stages[in.VersionStage] != v.id {
			return nil, newError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+in.VersionId+" and staging label: "+in.VersionStage)
		}
	} else {
		stage := in.VersionStage
		if stage == "" {
			stage = StageCurrent
		}
		id, ok := r.stages[stage]
		if !ok {
			return nil, newError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: "+stage)
		}
		v = r.versions[id]
	}
	now := s.now().UTC()
	r.lastAccessed = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return getSecretValueOutput{
		ARN:           r.arn,
		Name:          r.name,
		VersionId:     v.id,
		SecretString:  v.str,
		SecretBinary:  v.bin,
		VersionStages: r.stagesOf(v.id),
		CreatedDate:   stamp(v.created),
	}, nil
}

// --- PutSecretValue ---

type putSecretValueInput struct {
	SecretId           string
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte
	VersionStages      []string
}

type putSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionId     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func (s *Server) putSecretValue(body []byte) (any, *apiError) {
	var in putSecretValueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validValue(in.SecretString, in.SecretBinary, true); e != nil {
		return nil, e
	}
	if e := validStages(in.VersionStages); e != nil {
		return nil, e
	}
	token := in.ClientRequestToken
	if token == "" {
		token = newUUID()
	} else if e := validToken(token); e != nil {
		return nil, e
	}
	r, e := s.findLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	// The same ClientRequestToken with the same value is a retry: the request is ignored
	// and answers the existing version. With another value it would modify an existing
	// version, which AWS refuses.
	if v, ok := r.versions[token]; ok {
		if !v.sameValue(in.SecretString, in.SecretBinary) {
			return nil, newError("ResourceExistsException", "You can't modify an existing version, you can only create new versions.")
		}
		return putSecretValueOutput{ARN: r.arn, Name: r.name, VersionId: v.id, VersionStages: r.stagesOf(v.id)}, nil
	}
	// Without VersionStages the new version becomes AWSCURRENT (and the version that
	// held it AWSPREVIOUS); with them, only the named labels move.
	labels := in.VersionStages
	if len(labels) == 0 {
		labels = []string{StageCurrent}
	}
	now := s.now()
	if e := r.versionQuota(now); e != nil {
		return nil, e
	}
	r.addVersion(now, token, in.SecretString, in.SecretBinary, labels)
	r.lastChanged = now
	return putSecretValueOutput{ARN: r.arn, Name: r.name, VersionId: token, VersionStages: r.stagesOf(token)}, nil
}

// --- DescribeSecret ---
