package testenv

import (
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/spapi-auth-keeper/keeper/infra/kmsemu"
)

// KMSEndpointEnv is the SDK's own variable naming a KMS endpoint.
const KMSEndpointEnv = "AWS_ENDPOINT_URL_KMS"

var (
	sharedKMSOnce sync.Once
	sharedKMSURL  string
	sharedKMSErr  error
)

// KMS returns a KMS client for tests and a fresh symmetric key of this test's own:
// pointed at AWS_ENDPOINT_URL_KMS when it is set, otherwise at one in-process
// emulator (local-kms) shared by the whole test binary.
func KMS(t testing.TB) (client *kms.Client, keyID string) {
	t.Helper()
	url := os.Getenv(KMSEndpointEnv)
	if url == "" {
		sharedKMSOnce.Do(func() {
			var emu *kmsemu.Server
			if emu, sharedKMSErr = kmsemu.New(); sharedKMSErr == nil {
				sharedKMSURL = httptest.NewServer(emu).URL
			}
		})
		if sharedKMSErr != nil {
			t.Fatalf("start the KMS emulator: %v", sharedKMSErr)
		}
		url = sharedKMSURL
	}
	client = kms.NewFromConfig(Config(), func(o *kms.Options) { o.BaseEndpoint = aws.String(url) })
	out, err := client.CreateKey(Context(), &kms.CreateKeyInput{Description: aws.String(t.Name())})
	if err != nil {
		t.Fatalf("create a KMS key: %v", err)
	}
	return client, aws.ToString(out.KeyMetadata.KeyId)
}
