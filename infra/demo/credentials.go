package demo

// RotatedClientSecret is the new LWA client secret the sample
// APPLICATION_OAUTH_CLIENT_NEW_SECRET notification (events/sqs-client-secret-new.json)
// carries. A demo value, never a real secret: the local stack's Amazon simulator
// accepts it beside ClientSecret, so the sample's verification succeeds there.
const RotatedClientSecret = "amzn1.oa2-cs.v1.demo-rotated-client-secret"
