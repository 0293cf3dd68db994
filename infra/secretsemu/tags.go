package secretsemu

// TagResource and UntagResource.

import (
	"fmt"
)

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
