// Package startup holds the cold-start benchmark of every function (its test file):
// each bootstrap's size as Lambda gets it and its start-to-ready time beside a
// hello-world aws-lambda-go function, in paired runs.
package startup
