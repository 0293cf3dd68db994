package secretsemu

// The limits and checks every operation applies to its input, as Secrets Manager
// documents them, and the JSON shapes the operations share.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
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
