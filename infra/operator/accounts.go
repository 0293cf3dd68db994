package operator

import "github.com/spapi-auth-keeper/keeper/shared/importer"

func accountReader(*Session) importer.AccountReader { return nil }
