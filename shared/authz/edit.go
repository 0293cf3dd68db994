package authz

// EventContactChanged (authz.go) also records an operator's edit of a record's contact
// details (e-mail, locale, marketplace, display name); its detail says what changed.
