#!/usr/bin/env bash
# CI for the third-party plugin example, examples/plugins/webhook (a module
# of its own, which .ci/run's `./...` does not reach): check and test the
# module, build its executable as a user would, run the conformance suite
# on it with `flowctl plugin test`, and run its pipelines against receivers
# on 127.0.0.1, with the executable found through $FLOWCTL_PLUGIN_PATH.
#
#   scripts/ci-example-plugin.sh [--strict]
#
# The flowctl steps need `flowctl plugin test` and plugin discovery. Where
# flowctl lacks one of them the step is skipped with a SKIP line; with
# --strict that is a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
example=$root/examples/plugins/webhook
strict=0
case "${1:-}" in
  --strict) strict=1 ;;
  "") ;;
  *) echo "usage: $0 [--strict]" >&2; exit 2 ;;
esac
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

skip() {
  if [ "$strict" = 1 ]; then echo "FAIL (--strict): $*"; exit 1; fi
  echo "SKIP: $*"
}
fail() { echo "FAIL: $*"; exit 1; }

# receiver NAME [FLAGS...] starts cmd/receiver on 127.0.0.1, with its
# files under $tmp/NAME.*, and sets receiver_url to its base URL.
receiver() {
  local name=$1; shift
  "$tmp/receiver" -addr-file "$tmp/$name.addr" -out "$tmp/$name.jsonl" -acks "$tmp/$name.acks" "$@" \
    >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if [ -s "$tmp/$name.addr" ]; then
      receiver_url=$(cat "$tmp/$name.addr")
      return
    fi
    sleep 0.1
  done
  cat "$tmp/$name.log"
  fail "receiver $name did not start"
}

echo "== example plugin: gofmt, go.mod, vet, staticcheck, imports"
(
  cd "$example"
  unformatted=$(gofmt -l .)
  [ -z "$unformatted" ] || fail "gofmt needed: $unformatted"
  # go.mod and go.sum are complete and tidy (-diff writes nothing).
  go mod tidy -diff || fail "go mod tidy would change examples/plugins/webhook/go.mod or go.sum (run it there)"
  go vet ./...
  sc="$(go env GOPATH)/bin/staticcheck"
  if [ -x "$sc" ]; then "$sc" ./...; else echo "staticcheck not installed; skipped"; fi
  # The plugin's own code imports nothing of flowctl but plugins/sdk.
  bad=$(go list -f '{{range .Imports}}{{$.ImportPath}} {{.}}{{"\n"}}{{end}}' ./... |
    awk '$2 ~ /^github.com\/flowctl\/flowctl\// && $2 != "github.com/flowctl/flowctl/plugins/sdk"')
  [ -z "$bad" ] || fail "the example imports more of flowctl than plugins/sdk: $bad"
)

echo "== example plugin: build flowctl-plugin-webhook and the receiver"
(
  cd "$example"
  go build -o "$tmp/bin/flowctl-plugin-webhook" .
  go build -o "$tmp/receiver" ./cmd/receiver
)
plugin=$tmp/bin/flowctl-plugin-webhook

echo "== example plugin: go test -race ./..."
(cd "$example" && go test -race -shuffle=on -timeout 10m ./...)

echo "== flowctl"
go build -o "$tmp/flowctl" ./cmd/flowctl
flowctl=$tmp/flowctl

echo "== flowctl plugin test flowctl-plugin-webhook"
if help=$("$flowctl" plugin test --help 2>&1); then
  # The source case reads the document the receiver serves: seed it.
  printf '{"n":1}\n{"n":2}\n\n{"n":3}\n' >"$tmp/conformance.jsonl"
  receiver conformance
  url=$receiver_url
  cat >"$tmp/cases.yaml" <<EOF
sources:
  webhook:
    config: {url: "$url/hook", bounded: true}
    format: json
    bad:
      ftp_url: {url: "ftp://127.0.0.1/hook"}
      zero_interval: {url: "$url/hook", interval: 0s}
sinks:
  webhook:
    config: {url: "$url/hook", backoff: 1ms}
    columns: [n, name]
    rows: [[1, a], [2, b], [3, null]]
    bad:
      ftp_url: {url: "ftp://127.0.0.1/hook"}
      zero_batch: {url: "$url/hook", batch_size: 0}
EOF
  if grep -q -- '--cases' <<<"$help"; then
    "$flowctl" plugin test --cases "$tmp/cases.yaml" "$plugin"
  else
    echo "$help"
    skip "flowctl plugin test has no --cases flag; it cannot be given the example's configs"
  fi
else
  skip "flowctl has no 'plugin test' command yet"
fi

echo "== pipelines through \$FLOWCTL_PLUGIN_PATH"
export FLOWCTL_PLUGIN_PATH=$tmp/bin
list=$("$flowctl" plugins list 2>&1 || true)
if grep -Eq '^webhook +sink' <<<"$list" && grep -Eq '^webhook +source' <<<"$list"; then
  echo "$list" | grep -E '^(NAME|webhook) '
  grep -q "$plugin" <<<"$list" || fail "flowctl plugins list does not say where webhook was found: $list"
  "$flowctl" plugins inspect webhook | grep -q 'max_retries' || fail "flowctl plugins inspect webhook shows no max_retries"

  # A receiver that wants a token and fails the first two POSTs, so the
  # sink's retries run; a copy of the pipelines in a folder of our own, so
  # that their outputs and lock file land there.
  receiver pipeline -token s3cret -fail 2
  export WEBHOOK_URL=$receiver_url WEBHOOK_TOKEN=s3cret
  mkdir "$tmp/run"
  cp "$example/pipeline.yaml" "$example/readback.yaml" "$tmp/run/"
  cd "$tmp/run"
  "$flowctl" validate pipeline.yaml readback.yaml

  "$flowctl" run pipeline.yaml
  got=$(wc -l <"$tmp/pipeline.jsonl")
  [ "$got" -eq 1000 ] || fail "the receiver got $got rows, want 1000"
  # Each of the 1000 events exactly once, whatever the retries did.
  diff <(grep -o '"n":[0-9]*' "$tmp/pipeline.jsonl" | cut -d: -f2 | sort -n) <(seq 0 999) >/dev/null ||
    fail "the receiver did not get events 0 to 999 exactly once"

  "$flowctl" run readback.yaml
  # Read back through the webhook source, the rows come out byte for byte.
  cmp "$tmp/pipeline.jsonl" out/readback.jsonl || fail "readback.yaml did not read back what pipeline.yaml sent"
  size=$(wc -c <"$tmp/pipeline.jsonl")
  grep -q "\"offset\":$size,\"line\":1000}" "$tmp/pipeline.acks" ||
    fail "no acknowledgement of line 1000 at offset $size: $(cat "$tmp/pipeline.acks" 2>/dev/null)"

  echo "== flowctl plugins lock"
  if "$flowctl" plugins lock --help >/dev/null 2>&1; then
    "$flowctl" plugins lock pipeline.yaml
    grep -q webhook flowctl.lock || fail "flowctl.lock does not pin webhook"
    "$flowctl" run pipeline.yaml
    # A changed executable must refuse to start.
    cp "$plugin" "$tmp/plugin.orig"
    printf 'x' >>"$plugin"
    if "$flowctl" run pipeline.yaml 2>"$tmp/lock.err"; then
      fail "a changed flowctl-plugin-webhook ran despite flowctl.lock"
    fi
    cat "$tmp/lock.err"
    grep -qi 'sha-\?256\|checksum' "$tmp/lock.err" || fail "the refusal does not mention the checksum"
    cp "$tmp/plugin.orig" "$plugin"
  else
    skip "flowctl has no 'plugins lock' command yet"
  fi
  cd "$root"
else
  echo "$list"
  skip "flowctl plugins list does not show the webhook sink and source from \$FLOWCTL_PLUGIN_PATH"
fi

echo "== example plugin: ok"
