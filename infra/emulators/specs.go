package emulators

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// emulator says how to run one emulator on a given port and how to tell it answers.
type emulator struct {
	name    string // in errors: "DynamoDB Local"
	tag     string // log line prefix: "dynamodb"
	envVar  string
	command func(port int) *exec.Cmd
	probe   func(ctx context.Context, baseURL string) error
}

const npmHint = "run `npm ci --prefix infra`"

func dynamoDB(infra string) (emulator, error) {
	dir := filepath.Join(infra, "node_modules", "amplify-dynamodb-simulator", "emulator")
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err != nil {
		return emulator{}, fmt.Errorf("DynamoDB Local jar %w: %s (looked for %s)", ErrNotFound, npmHint, jar)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return emulator{}, fmt.Errorf("java %w: DynamoDB Local needs a Java 17 runtime on PATH (Debian: apt-get install openjdk-17-jre-headless)", ErrNotFound)
	}
	classes, err := loopbackLauncher(infra, dir, java)
	if err != nil {
		return emulator{}, err
	}
	return emulator{
		name:   "DynamoDB Local",
		tag:    "dynamodb",
		envVar: EnvDynamoDB,
		command: func(port int) *exec.Cmd {
			// -sharedDb: one database whatever the credentials and region, so the AWS CLI
			// or a browser shell sees the tables the tests made. -disableTelemetry: DynamoDB
			// Local otherwise phones home, and tests make no calls beyond this machine.
			// DynamoDB Local itself listens on every interface and has no option to
			// choose: LoopbackDynamoDB starts the same server from the same arguments
			// bound to 127.0.0.1 only.
			cp := strings.Join([]string{classes, jar, filepath.Join(dir, "DynamoDBLocal_lib", "*")}, string(os.PathListSeparator))
			cmd := exec.Command(java, "-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"), "-cp", cp,
				"LoopbackDynamoDB", "-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
			cmd.Dir = dir
			return cmd
		},
		probe: func(ctx context.Context, base string) error {
			// A ListTables call. DynamoDB Local checks only that a SigV4 header is present,
			// so a placeholder one gets a real answer without signing.
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base, strings.NewReader("{}"))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
			return expect(req, "TableNames")
		},
	}, nil
}

// loopbackLauncher compiles LoopbackDynamoDB.java once per version of its source,
// with the Java runtime's own compiler module (no JDK needed), into a folder under
// node_modules (npm ci clears it), and returns that folder. Compiling on every start
// would cost the JVM as much again as DynamoDB Local's own start.
func loopbackLauncher(infra, dir, java string) (string, error) {
	src := filepath.Join(infra, "emulators", "LoopbackDynamoDB.java")
	code, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("DynamoDB Local launcher %w (looked for %s)", ErrNotFound, src)
	}
	sum := sha256.Sum256(code)
	out := filepath.Join(infra, "node_modules", ".cache", "loopback-dynamodb-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(out, "LoopbackDynamoDB.class")); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	// Compiled into a fresh folder and renamed into place: several test binaries may
	// start emulators at once.
	tmp, err := os.MkdirTemp(filepath.Dir(out), "compiling-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cp := filepath.Join(dir, "DynamoDBLocal.jar") + string(os.PathListSeparator) + filepath.Join(dir, "DynamoDBLocal_lib", "*")
	if b, err := exec.CommandContext(ctx, java, "-m", "jdk.compiler/com.sun.tools.javac.Main", "-cp", cp, "-d", tmp, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("compile %s: %v\n%s", src, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		if _, statErr := os.Stat(filepath.Join(out, "LoopbackDynamoDB.class")); statErr != nil {
			return "", fmt.Errorf("cache the DynamoDB Local launcher: %w", err)
		}
	}
	return out, nil
}

func sesV2(infra string) (emulator, error) {
	bin := filepath.Join(infra, "node_modules", ".bin", "aws-ses-v2-local")
	if _, err := os.Stat(bin); err != nil {
		return emulator{}, fmt.Errorf("aws-ses-v2-local %w: %s (looked for %s)", ErrNotFound, npmHint, bin)
	}
	if err := needNode(); err != nil {
		return emulator{}, err
	}
	return emulator{
		name:   "aws-ses-v2-local",
		tag:    "ses",
		envVar: EnvSES,
		command: func(port int) *exec.Cmd {
			return exec.Command(bin, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
		},
		probe: func(ctx context.Context, base string) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/store", nil)
			if err != nil {
				return err
			}
			return expect(req, "emails")
		},
	}, nil
}

func sqsEmulator(infra string) (emulator, error) {
	pkg := filepath.Join(infra, "node_modules", "fauxqs", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return emulator{}, fmt.Errorf("fauxqs (the SQS emulator) %w: %s (looked for %s)", ErrNotFound, npmHint, pkg)
	}
	script := filepath.Join(infra, "emulators", "sqs.mjs")
	if _, err := os.Stat(script); err != nil {
		return emulator{}, fmt.Errorf("SQS emulator launcher %w (looked for %s)", ErrNotFound, script)
	}
	if err := needNode(); err != nil {
		return emulator{}, err
	}
	return emulator{
		name:   "fauxqs (SQS)",
		tag:    "sqs",
		envVar: EnvSQS,
		command: func(port int) *exec.Cmd {
			return exec.Command("node", script, "--port", strconv.Itoa(port))
		},
		probe: func(ctx context.Context, base string) error {
			// ListQueues in the AWS JSON protocol, as the SDK sends it.
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/", strings.NewReader("{}"))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "AmazonSQS.ListQueues")
			return expect(req, "{")
		},
	}, nil
}

func needNode() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node %w: the SES and SQS emulators need Node.js 20 or later on PATH", ErrNotFound)
	}
	return nil
}

// expect sends req and wants a 200 whose body contains want.
func expect(req *http.Request, want string) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("%s %s: HTTP %d %.200s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return nil
}
