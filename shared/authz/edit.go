package authz

// EventContactChanged records an operator's edit of a record's contact details
// (e-mail, locale, marketplace, display name); its detail says what changed.
const EventContactChanged EventKind = "contact_changed"
