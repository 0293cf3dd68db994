// Command hello is the smallest aws-lambda-go function: the baseline the callback's
// start-up time and binary size are compared with.
package main

import "github.com/aws/aws-lambda-go/lambda"

func main() { lambda.Start(func() (string, error) { return "hello", nil }) }
