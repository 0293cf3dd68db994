package secretsemu

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits from the Secrets Manager API reference.
const (
	maxNameLen        = 512
	maxValueBytes     = 65536
	minTokenLen       = 32
	maxTokenLen       = 64
	maxTags           = 50
	maxTagKeyLen      = 128
	maxTagValueLen    = 256
	maxStageLen       = 256
	maxStagesPerCall  = 20
	minRecoveryDays   = 7
	maxRecoveryDays   = 30
	defaultRecovery   = 30
	maxListResults    = 100
	maxDescriptionLen = 2048
)

// epochTime is a timestamp as AWS JSON protocols send it: seconds since the epoch, as a
// JSON number with a fraction.
type epochTime time.Time

func (t epochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func stamp(t time.Time) *epochTime {
	if t.IsZero() {
		return nil
	}
	e := epochTime(t)
	return &e
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func (r *secretRecord) tagList() []tag {
	if len(r.tags) == 0 {
		return nil
	}
	out := make([]tag, 0, len(r.tags))
	for k, v := range r.tags {
		out = append(out, tag{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// validName applies CreateSecret's rule: 1 to 512 ASCII letters, digits and /_+=.@-.
func validName(name string) *apiError {
	if name == "" || len(name) > maxNameLen {
		return newError("ValidationException", fmt.Sprintf("Invalid name. The name must be 1 to %d characters long.", maxNameLen))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("/_+=.@-", c) >= 0:
		default:
			return newError("ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@")
		}
	}
	return nil
}

func validToken(token string) *apiError {
	if n := len(token); n < minTokenLen || n > maxTokenLen {
		return newError("ValidationException", fmt.Sprintf("ClientRequestToken must be %d to %d characters long.", minTokenLen, maxTokenLen))
	}
	return nil
}

// validValue requires exactly one of SecretString and SecretBinary, at most 64 KiB. The
// message never repeats the value: it is a secret.
func validValue(str *string, bin []byte, required bool) *apiError {
	switch {
	case str != nil && bin != nil:
		return newError("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	case str == nil && bin == nil && required:
		return newError("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	case str != nil && len(*str) > maxValueBytes, len(bin) > maxValueBytes:
		return newError("ValidationException", fmt.Sprintf("The secret value must be at most %d bytes.", maxValueBytes))
	}
	return nil
}

func validTags(tags []tag) *apiError {
	if len(tags) > maxTags {
		return newError("ValidationException", fmt.Sprintf("A secret can have at most %d tags.", maxTags))
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > maxTagKeyLen || len(t.Value) > maxTagValueLen {
			return newError("ValidationException", fmt.Sprintf("Tag keys must be 1 to %d characters and values at most %d.", maxTagKeyLen, maxTagValueLen))
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return newError("InvalidParameterException", "Tag keys beginning with aws: are reserved for AWS use.")
		}
	}
	return nil
}

func validStages(stages []string) *apiError {
	if len(stages) > maxStagesPerCall {
		return newError("ValidationException", fmt.Sprintf("A version can have at most %d staging labels.", maxStagesPerCall))
	}
	for _, st := range stages {
		if st == "" || len(st) > maxStageLen {
			return newError("ValidationException", fmt.Sprintf("Staging labels must be 1 to %d characters long.", maxStageLen))
		}
	}
	return nil
}

func requireID(id string) *apiError {
	if id == "" || len(id) > 2048 {
		return newError("ValidationException", "SecretId must be 1 to 2048 characters long.")
	}
	return nil
}

// --- CreateSecret ---

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

type tagResourceInput struct {
	SecretId string
	Tags     []tag
}

type untagResourceInput struct {
	SecretId string
	TagKeys  []string
}

func (s *Server) tagResource(body []byte) (any, *apiError) {
	var in tagResourceInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validTags(in.Tags); e != nil {
		return nil, e
	}
	r, e := s.findLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	merged := make(map[string]string, len(r.tags)+len(in.Tags))
	for k, v := range r.tags {
		merged[k] = v
	}
	// A tag whose key exists already takes the new value.
	for _, t := range in.Tags {
		merged[t.Key] = t.Value
	}
	if len(merged) > maxTags {
		return nil, newError("LimitExceededException", fmt.Sprintf("A secret can have at most %d tags.", maxTags))
	}
	r.tags = merged
	r.lastChanged = s.now()
	return struct{}{}, nil
}

func (s *Server) untagResource(body []byte) (any, *apiError) {
	var in untagResourceInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	r, e := s.findLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	for _, k := range in.TagKeys {
		delete(r.tags, k)
	}
	r.lastChanged = s.now()
	return struct{}{}, nil
}

// --- UpdateSecretVersionStage ---

type updateStageInput struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

func (s *Server) updateSecretVersionStage(body []byte) (any, *apiError) {
	var in updateStageInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validStages([]string{in.VersionStage}); e != nil {
		return nil, e
	}
	r, e := s.findLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	for _, id := range []string{in.MoveToVersionId, in.RemoveFromVersionId} {
		if id != "" && r.versions[id] == nil {
			return nil, newError("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: "+id)
		}
	}
	owner, held := r.stages[in.VersionStage]
	// A label attached elsewhere moves only if the caller names the version it leaves:
	// AWS refuses the call when RemoveFromVersionId is missing or does not match.
	if held && owner != in.MoveToVersionId && in.RemoveFromVersionId != owner {
		return nil, newError("InvalidParameterException", "The staging label "+in.VersionStage+" is currently attached to version "+owner+", but you didn't specify it as RemoveFromVersionId.")
	}
	if in.RemoveFromVersionId != "" && (!held || owner != in.RemoveFromVersionId) {
		return nil, newError("InvalidParameterException", "The staging label "+in.VersionStage+" isn't attached to version "+in.RemoveFromVersionId+".")
	}
	switch {
	case in.MoveToVersionId != "":
		r.moveStage(in.VersionStage, in.MoveToVersionId)
	case in.RemoveFromVersionId != "":
		// A secret must keep a current version: AWSCURRENT can only be moved.
		if in.VersionStage == StageCurrent {
			return nil, newError("InvalidParameterException", "You can't remove the staging label AWSCURRENT from a version; move it to another version instead.")
		}
		delete(r.stages, in.VersionStage)
	default:
		return nil, newError("InvalidParameterException", "Specify MoveToVersionId, RemoveFromVersionId, or both.")
	}
	r.lastChanged = s.now()
	return arnNameOutput{ARN: r.arn, Name: r.name}, nil
}

// --- ListSecrets ---

type listSecretsInput struct {
	Filters []struct {
		Key    string
		Values []string
	}
	IncludePlannedDeletion bool
	MaxResults             *int
	NextToken              string
	SortBy                 string
	SortOrder              string
}

type secretListEntry struct {
	ARN                    string              `json:"ARN"`
	Name                   string              `json:"Name"`
	Description            *string             `json:"Description,omitempty"`
	KmsKeyId               string              `json:"KmsKeyId,omitempty"`
	Tags                   []tag               `json:"Tags,omitempty"`
	SecretVersionsToStages map[string][]string `json:"SecretVersionsToStages,omitempty"`
	CreatedDate            *epochTime          `json:"CreatedDate,omitempty"`
	LastChangedDate        *epochTime          `json:"LastChangedDate,omitempty"`
	LastAccessedDate       *epochTime          `json:"LastAccessedDate,omitempty"`
	DeletedDate            *epochTime          `json:"DeletedDate,omitempty"`
	PrimaryRegion          string              `json:"PrimaryRegion,omitempty"`
}

type listSecretsOutput struct {
	SecretList []secretListEntry `json:"SecretList"`
	NextToken  string            `json:"NextToken,omitempty"`
}

// matcher says whether a secret matches one filter value (without its "!").
type matcher func(r *secretRecord, value string) bool

// filterKeys implements the filter keys the project needs, with AWS's matching rules:
// name, tag-key and tag-value are case-sensitive prefix matches; description is a
// prefix match, not case-sensitive, on the description or any word in it.
var filterKeys = map[string]matcher{
	"name": func(r *secretRecord, v string) bool { return strings.HasPrefix(r.name, v) },
	"tag-key": func(r *secretRecord, v string) bool {
		for k := range r.tags {
			if strings.HasPrefix(k, v) {
				return true
			}
		}
		return false
	},
	"tag-value": func(r *secretRecord, v string) bool {
		for _, tv := range r.tags {
			if strings.HasPrefix(tv, v) {
				return true
			}
		}
		return false
	},
	"description": func(r *secretRecord, v string) bool {
		if r.description == nil {
			return false
		}
		d, v := strings.ToLower(*r.description), strings.ToLower(v)
		if strings.HasPrefix(d, v) {
			return true
		}
		for _, w := range strings.FieldsFunc(d, func(c rune) bool { return !unicode.IsLetter(c) && !unicode.IsDigit(c) }) {
			if strings.HasPrefix(w, v) {
				return true
			}
		}
		return false
	},
}

// matchFilter: any of the filter's plain values matches, and none of its "!" values
// (negation filters) does. Separate filters must all match.
func matchFilter(r *secretRecord, m matcher, values []string) bool {
	positive, matched := false, false
	for _, v := range values {
		if neg, ok := strings.CutPrefix(v, "!"); ok {
			if m(r, neg) {
				return false
			}
			continue
		}
		positive = true
		if m(r, v) {
			matched = true
		}
	}
	return !positive || matched
}

func (s *Server) listSecrets(body []byte) (any, *apiError) {
	var in listSecretsInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	limit := maxListResults
	if in.MaxResults != nil {
		limit = *in.MaxResults
		if limit < 1 || limit > maxListResults {
			return nil, newError("ValidationException", fmt.Sprintf("MaxResults must be between 1 and %d.", maxListResults))
		}
	}
	type compiled struct {
		m      matcher
		values []string
	}
	var filters []compiled
	for _, f := range in.Filters {
		m, ok := filterKeys[f.Key]
		if !ok {
			return nil, newError("InvalidParameterException", "filter key "+f.Key+" is not implemented by this emulator (name, tag-key, tag-value, description are)")
		}
		if len(f.Values) == 0 || len(f.Values) > 10 {
			return nil, newError("ValidationException", "A filter takes 1 to 10 values.")
		}
		filters = append(filters, compiled{m, f.Values})
	}
	offset := 0
	if in.NextToken != "" {
		n, err := decodePageToken(in.NextToken)
		if err != nil {
			return nil, newError("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		offset = n
	}

	s.purgeExpired()
	var matched []*secretRecord
next:
	for _, r := range s.secrets {
		if r.scheduledForDeletion() && !in.IncludePlannedDeletion {
			continue
		}
		for _, f := range filters {
			if !matchFilter(r, f.m, f.values) {
				continue next
			}
		}
		matched = append(matched, r)
	}
	if e := sortSecrets(matched, in.SortBy, in.SortOrder); e != nil {
		return nil, e
	}

	out := listSecretsOutput{SecretList: []secretListEntry{}}
	if offset > len(matched) {
		offset = len(matched)
	}
	end := min(offset+limit, len(matched))
	for _, r := range matched[offset:end] {
		out.SecretList = append(out.SecretList, secretListEntry{
			ARN:                    r.arn,
			Name:                   r.name,
			Description:            r.description,
			KmsKeyId:               r.kmsKeyID,
			Tags:                   r.tagList(),
			SecretVersionsToStages: r.versionsToStages(),
			CreatedDate:            stamp(r.created),
			LastChangedDate:        stamp(r.lastChanged),
			LastAccessedDate:       stamp(r.lastAccessed),
			DeletedDate:            stamp(r.deletedAt),
			PrimaryRegion:          Region,
		})
	}
	if end < len(matched) {
		out.NextToken = encodePageToken(end)
	}
	return out, nil
}

// sortSecrets orders a listing: by creation date unless SortBy says otherwise, newest
// first unless SortOrder is asc; ties fall back to the name so pages are stable.
func sortSecrets(rs []*secretRecord, by, order string) *apiError {
	key := func(r *secretRecord) time.Time { return r.created }
	byName := false
	switch by {
	case "", "created-date":
	case "last-changed-date":
		key = func(r *secretRecord) time.Time { return r.lastChanged }
	case "last-accessed-date":
		key = func(r *secretRecord) time.Time { return r.lastAccessed }
	case "name":
		byName = true
	default:
		return newError("ValidationException", "SortBy must be created-date, last-accessed-date, last-changed-date or name.")
	}
	desc := true
	switch order {
	case "", "desc":
	case "asc":
		desc = false
	default:
		return newError("ValidationException", "SortOrder must be asc or desc.")
	}
	sort.Slice(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if desc {
			a, b = b, a
		}
		if !byName {
			if ka, kb := key(a), key(b); !ka.Equal(kb) {
				return ka.Before(kb)
			}
		}
		return a.name < b.name
	})
	return nil
}

func encodePageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func decodePageToken(token string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(string(raw), "offset:")
	if !ok {
		return 0, fmt.Errorf("not a page token")
	}
	v, err := strconv.Atoi(n)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("not a page token")
	}
	return v, nil
}
