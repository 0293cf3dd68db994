package secretsemu

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// Staging labels with a meaning to Secrets Manager itself.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// Secrets Manager keeps deprecated versions (no staging label) until a secret holds more
// than 100 versions, and never removes one younger than 24 hours.
const (
	versionsKept      = 100
	deprecatedMinAge  = 24 * time.Hour
	arnSuffixAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

type secretRecord struct {
	name        string
	arn         string
	description *string
	kmsKeyID    string
	tags        map[string]string

	created      time.Time
	lastChanged  time.Time
	lastAccessed time.Time // a day: AWS keeps only the date of the last read

	deletedAt   time.Time // zero unless scheduled for deletion
	deleteAfter time.Time // end of the recovery window

	versions map[string]*version
	order    []string          // version ids, oldest first
	stages   map[string]string // staging label → version id; a label is on one version at most
}

type version struct {
	id      string
	str     *string
	bin     []byte
	created time.Time
}

func (v *version) sameValue(str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) || (v.bin == nil) != (bin == nil) {
		return false
	}
	if str != nil && *str != *v.str {
		return false
	}
	return bytes.Equal(v.bin, bin)
}

// newARN names a secret as AWS does: the name plus a hyphen and six random characters,
// so that a secret deleted and created again under the same name gets a new ARN.
func newARN(name string) string {
	suffix := make([]byte, 6)
	for i := range suffix {
		suffix[i] = arnSuffixAlphabet[rand.IntN(len(arnSuffixAlphabet))]
	}
	return arnPrefix() + name + "-" + string(suffix)
}

func arnPrefix() string {
	return "arn:aws:secretsmanager:" + Region + ":" + AccountID + ":secret:"
}

func (r *secretRecord) scheduledForDeletion() bool { return !r.deletedAt.IsZero() }

// stagesOf lists the labels on version id, sorted.
func (r *secretRecord) stagesOf(id string) []string {
	var out []string
	for label, v := range r.stages {
		if v == id {
			out = append(out, label)
		}
	}
	sort.Strings(out)
	return out
}

// versionsToStages maps every version that carries a label to its labels; versions
// without one are deprecated and DescribeSecret leaves them out.
func (r *secretRecord) versionsToStages() map[string][]string {
	out := make(map[string][]string)
	for label, id := range r.stages {
		out[id] = append(out[id], label)
	}
	for id := range out {
		sort.Strings(out[id])
	}
	return out
}

// moveStage attaches label to version to, taking it off the version that held it.
// Whenever AWSCURRENT moves, AWSPREVIOUS follows to the version AWSCURRENT left, as
// PutSecretValue and UpdateSecretVersionStage document.
func (r *secretRecord) moveStage(label, to string) {
	from, held := r.stages[label]
	if held && from == to {
		return
	}
	r.stages[label] = to
	if label == StageCurrent && held {
		r.moveStage(StagePrevious, from)
	}
}

// addVersion stores a new version and attaches labels to it. The first version of a
// secret always gets AWSCURRENT.
func (r *secretRecord) addVersion(now time.Time, id string, str *string, bin []byte, labels []string) {
	first := len(r.versions) == 0
	r.versions[id] = &version{id: id, str: str, bin: bin, created: now}
	r.order = append(r.order, id)
	if first && !slices.Contains(labels, StageCurrent) {
		labels = append(labels, StageCurrent)
	}
	for _, l := range labels {
		r.moveStage(l, id)
	}
	r.pruneVersions(now)
}

// versionQuota refuses a new version while the secret already holds versionsKept
// versions created within the last 24 hours: Secrets Manager removes only deprecated
// versions older than that, so a secret written more often than about once every 14
// minutes reaches the quota on secret versions, and PutSecretValue answers
// LimitExceededException until the oldest of those versions turns 24 hours old.
func (r *secretRecord) versionQuota(now time.Time) *apiError {
	recent := 0
	for _, v := range r.versions {
		if now.Sub(v.created) < deprecatedMinAge {
			recent++
		}
	}
	if recent >= versionsKept {
		return newError("LimitExceededException", "The request failed because it would exceed the quota of secret versions: this secret already has 100 versions created in the last 24 hours.")
	}
	return nil
}

// pruneVersions removes the oldest deprecated versions older than 24 hours while the
// secret holds more than 100 versions.
func (r *secretRecord) pruneVersions(now time.Time) {
	if len(r.versions) <= versionsKept {
		return
	}
	labelled := make(map[string]bool, len(r.stages))
	for _, id := range r.stages {
		labelled[id] = true
	}
	kept := r.order[:0]
	for _, id := range r.order {
		v := r.versions[id]
		if len(r.versions) > versionsKept && !labelled[id] && now.Sub(v.created) >= deprecatedMinAge {
			delete(r.versions, id)
			continue
		}
		kept = append(kept, id)
	}
	r.order = kept
}

// findLive is find for the operations AWS refuses on a secret scheduled for
// deletion (it keeps the secret, but will not read or change it).
func (s *Server) findLive(id string) (*secretRecord, *apiError) {
	r, e := s.find(id)
	if e != nil {
		return nil, e
	}
	if r.scheduledForDeletion() {
		return nil, errMarkedForDeletion()
	}
	return r, nil
}

// find resolves a SecretId as AWS does: a name, a full ARN, or a partial ARN (the ARN
// without its six-character suffix). Secrets whose recovery window has ended are gone.
// Callers hold s.mu.
func (s *Server) find(id string) (*secretRecord, *apiError) {
	if e := requireID(id); e != nil {
		return nil, e
	}
	s.purgeExpired()
	if strings.HasPrefix(id, "arn:") {
		for _, r := range s.secrets {
			if r.arn == id {
				return r, nil
			}
		}
		if name, ok := strings.CutPrefix(id, arnPrefix()); ok {
			if r, found := s.secrets[name]; found {
				return r, nil
			}
		}
		return nil, errSecretNotFound()
	}
	if r, ok := s.secrets[id]; ok {
		return r, nil
	}
	return nil, errSecretNotFound()
}

// purgeExpired deletes, for good, the secrets whose recovery window has passed.
func (s *Server) purgeExpired() {
	now := s.now()
	for name, r := range s.secrets {
		if r.scheduledForDeletion() && !now.Before(r.deleteAfter) {
			delete(s.secrets, name)
		}
	}
}

func errSecretNotFound() *apiError {
	return newError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func errMarkedForDeletion() *apiError {
	return newError("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}
