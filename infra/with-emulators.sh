#!/usr/bin/env bash
# Runs a command with the emulators up, then stops them whatever the outcome:
#
#   infra/with-emulators.sh go test ./...
#
# It starts infra/cmd/emulators in the background, waits for the env file it writes
# once every emulator answers, exports those variables (the SDK's AWS_ENDPOINT_URL_*
# and static test credentials) and runs the command. Each run has its own folder
# under .local (env file, log, binary), so two runs in one tree never share a set of
# emulators; the log is printed if they fail to start.
#
# The command is built and run as a binary rather than through `go run`: `go run`
# does not pass SIGTERM on to the program, which would leave the emulators running.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

timeout="${EMULATORS_START_TIMEOUT:-120}"

if [ "$#" -eq 0 ]; then
	echo "usage: infra/with-emulators.sh COMMAND [ARG...]" >&2
	exit 2
fi

mkdir -p .local
state="$(mktemp -d .local/emulators.XXXXXX)"
env_file="$state/emulators.env"
log="$state/emulators.log"
bin="$state/emulators"
trap 'rm -rf "$state"' EXIT
go build -o "$bin" ./infra/cmd/emulators

"$bin" -env-file "$env_file" >"$log" 2>&1 &
pid=$!

stop() {
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	rm -rf "$state"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

deadline=$((SECONDS + timeout))
until [ -s "$env_file" ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "with-emulators: the emulators did not start; their log ($log):" >&2
		cat "$log" >&2
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "with-emulators: no $env_file after ${timeout}s; the emulators' log ($log):" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.2
done

set -a
# shellcheck source=/dev/null
. "./$env_file"
set +a
echo "with-emulators: DynamoDB $AWS_ENDPOINT_URL_DYNAMODB, SES $AWS_ENDPOINT_URL_SESV2 (sent mail: $AWS_ENDPOINT_URL_SESV2/), SQS $AWS_ENDPOINT_URL_SQS" >&2

"$@"
