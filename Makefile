# Tests, benchmarks and Lambda builds. `make test` is the whole check: it installs
# what the repository pins (npm packages, Go modules, a Java runtime if missing),
# starts the emulators once for every package, runs go vet and go test -race, and
# stops the emulators whatever the outcome.

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

.PHONY: test bench build deps java gomod clean \
	build-CallbackFunction build-ExpiryScanFunction build-ReminderFunction \
	build-TokenRefreshFunction build-CredentialsFunction

test: deps
	$(GO) vet ./...
	infra/with-emulators.sh $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

bench: deps
	infra/with-emulators.sh $(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -timeout $(TEST_TIMEOUT) ./...

deps: $(NPM_STAMP) java gomod

# npm ci again whenever the lockfile is newer than the last install.
$(NPM_STAMP): infra/package-lock.json infra/package.json
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

gomod:
	$(GO) mod download

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

clean:
	rm -rf bin .local
