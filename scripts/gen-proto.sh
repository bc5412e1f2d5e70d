#!/bin/sh
# Regenerates the plugin protocol's Go code in plugins/sdk/internal/pluginpb
# from proto/flowctl/plugin/v1/*.proto.
#
# protoc comes from Debian's protobuf-compiler package, installed here if it
# is missing; protoc-gen-go and protoc-gen-go-grpc are the versions pinned
# by the `tool` directives in go.mod, built into a temporary directory. No
# remote plugin service is used. `go generate ./plugins/sdk/internal/pluginpb`
# runs this script.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The protoc release the committed code was generated with; another one
# writes a different version header, which check-generated would flag.
want_protoc="libprotoc 3.21.12"

if ! command -v protoc >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "gen-proto: protoc is missing; install Debian's protobuf-compiler package (as root: apt-get install protobuf-compiler)" >&2
		exit 1
	fi
	echo "gen-proto: installing protobuf-compiler" >&2
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi
if [ "$(protoc --version)" != "$want_protoc" ]; then
	echo "gen-proto: protoc is $(protoc --version), want $want_protoc (Debian 12's protobuf-compiler)" >&2
	exit 1
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc

out=plugins/sdk/internal/pluginpb
rm -f "$out"/*.pb.go
protoc \
	--proto_path=proto \
	--plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	--go_out=. --go_opt=module=github.com/flowctl/flowctl \
	--go-grpc_out=. --go-grpc_opt=module=github.com/flowctl/flowctl \
	proto/flowctl/plugin/v1/*.proto
