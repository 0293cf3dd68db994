# Tests, benchmarks, Lambda builds and the local stack. `make test` is the whole
# check: it installs what the repository pins (npm packages, Go modules, a Java
# runtime and Chromium if missing), starts the emulators once for every package, runs
# go vet and go test -race, and stops the emulators whatever the outcome.
#
# `make run` starts the whole keeper on 127.0.0.1 (Ctrl-C stops it);
# `make invoke FN=<LogicalId> EVENT=events/<file>.json` is sam local invoke without Docker.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

GO ?= go
TEST_TIMEOUT ?= 15m
BENCHTIME ?= 1s
# Lambda's provided.al2023 runtime on Graviton: a static binary named bootstrap.
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w'
FUNCTIONS = $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
NPM_STAMP = infra/node_modules/.installed

.PHONY: test bench build deps java chromium pyclients gomod clean run invoke keeperctl \
	build-CallbackFunction build-ExpiryScanFunction build-ReminderFunction \
	build-TokenRefreshFunction build-CredentialsFunction build-ImporterFunction \
	build-DeliveryFunction \
	build-EventPublisherFunction build-WebhookSenderFunction build-TokenServiceFunction

test: deps chromium pyclients
	$(GO) vet ./...
	infra/with-emulators.sh $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

bench: deps
	infra/with-emulators.sh $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout $(TEST_TIMEOUT) ./...

deps: $(NPM_STAMP) java gomod

# npm ci again whenever the lockfile is newer than the last install.
$(NPM_STAMP): infra/package-lock.json infra/package.json
	@echo "npm: installing the emulators' packages into infra/node_modules (first run only)..."
	npm ci --prefix infra
	touch $@

# DynamoDB Local is a Java program.
java:
	@if ! command -v java >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && apt-get install -y openjdk-17-jre-headless; \
		else \
			echo "java not found: DynamoDB Local needs a Java 17 runtime (Debian: sudo apt-get install openjdk-17-jre-headless)" >&2; \
			exit 1; \
		fi; \
	fi

# The seller's journey in a real browser (infra/localstack) drives Debian's Chromium;
# without it that test skips and says how to install it.
chromium:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && apt-get install -y chromium; \
		else \
			echo "chromium not found: the browser test will be skipped (Debian: sudo apt-get install chromium)" >&2; \
		fi; \
	fi

# The README's Python example of the token service runs in the tests with Debian's
# botocore and requests; without them that example skips and says how to install them.
pyclients:
	@if ! python3 -c 'import botocore, requests' 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && apt-get install -y python3-botocore python3-requests; \
		else \
			echo "python3-botocore/python3-requests not found: the Python token example will be skipped (Debian: sudo apt-get install python3-botocore python3-requests)" >&2; \
		fi; \
	fi

gomod:
	@echo "go: downloading the modules go.sum pins (only the first run fetches any)..."
	$(GO) mod download

# make run's "ready in" counts from when make read this file: npm, Go modules and builds too.
RUN_STARTED := $(if $(filter run,$(MAKECMDGOALS)),$(shell date +%s))

# The whole keeper on this machine: builds every function for it, starts the
# emulators, the Amazon simulator and each function's bootstrap behind a local Lambda
# Runtime API, seeds the demo sellers and prints what to open. RUN_FLAGS passes
# options, e.g. RUN_FLAGS='-addr 127.0.0.1:8080 -sweep-every 10s'.
run: deps
	@mkdir -p .local/bin
	@echo "go: building the local stack's command..."
	$(GO) build -o .local/bin/localstack ./infra/cmd/localstack
	.local/bin/localstack $(if $(RUN_STARTED),-started-at $(RUN_STARTED)) $(RUN_FLAGS)

# One function's real binary with one event, through the local Runtime API, against
# the running local stack or a deployment of its own. INVOKE_FLAGS=--yes lets a client
# secret notification change the running stack's LWA client secret.
invoke: deps
	@if [ -z "$(FN)" ] || [ -z "$(EVENT)" ]; then \
		echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json [INVOKE_FLAGS=--yes]" >&2; exit 2; \
	fi
	@mkdir -p .local/bin
	@$(GO) build -o .local/bin/invoke ./infra/cmd/invoke
	@.local/bin/invoke -fn '$(FN)' -event '$(EVENT)' $(INVOKE_FLAGS)

# The operator CLI as a binary for this machine: bin/keeperctl (or
# `go install ./infra/cmd/keeperctl` to put it on your PATH).
keeperctl:
	$(GO) build -o bin/keeperctl ./infra/cmd/keeperctl
	@echo "built bin/keeperctl: try bin/keeperctl --local list"

# Every function that exists, for linux/arm64, into bin/<function>/bootstrap.
build:
	@for fn in $(FUNCTIONS); do \
		echo "build $$fn"; \
		$(LAMBDA_BUILD) -o bin/$$fn/bootstrap ./functions/$$fn; \
	done

# sam build (BuildMethod: makefile) runs build-<LogicalId> with ARTIFACTS_DIR set.
build-CallbackFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/callback
build-ExpiryScanFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/expiryscan
build-ReminderFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reminder
build-TokenRefreshFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/tokenrefresh
build-CredentialsFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/credentials
build-DeliveryFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/delivery
build-ImporterFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/importer
build-EventPublisherFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/eventpublisher
build-WebhookSenderFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/webhooksender
build-TokenServiceFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/tokenservice

clean:
	rm -rf bin .local
