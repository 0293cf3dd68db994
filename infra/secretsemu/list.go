package secretsemu

// ListSecrets: filters, sorting and pages.

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

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
