package reminder

import (
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// messageTags turns an email's tags into SES message tags, in a stable order.
func messageTags(tags map[string]string) []types.MessageTag {
	if len(tags) == 0 {
		return nil
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]types.MessageTag, 0, len(tags))
	for _, k := range names {
		out = append(out, types.MessageTag{Name: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}
