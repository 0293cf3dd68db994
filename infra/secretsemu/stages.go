package secretsemu

// UpdateSecretVersionStage: moving a staging label between versions.

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
