#!/usr/bin/env bash
# Generates the Go code (messages and grpc-go service stubs) for the
# connectrpc conformance suite's protos into gen/conformancev1.
#
# The suite's own generated package lives under its module's internal/ tree,
# which we cannot import, and its .proto files carry no go_package option, so
# every file is mapped to our import path with M options.
#
# Usage: generate.sh CONFORMANCE_MODULE_DIR PLUGIN_DIR
#   CONFORMANCE_MODULE_DIR  go list -m -f '{{.Dir}}' connectrpc.com/conformance
#                           (the module, at the version the Makefile pins)
#   PLUGIN_DIR              directory holding protoc-gen-go and protoc-gen-go-grpc
# protoc must be on PATH; it supplies google/protobuf/*.proto.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 CONFORMANCE_MODULE_DIR PLUGIN_DIR" >&2
	exit 2
fi
moddir="$1"
plugins="$2"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/gen"
pkg="github.com/h2grpc/h2grpc/interop/conformance/gen/conformancev1"
protodir="$moddir/proto"
files=(client_compat config server_compat service suite)

go_opts=(--go_opt="module=github.com/h2grpc/h2grpc/interop/conformance/gen")
grpc_opts=(--go-grpc_opt="module=github.com/h2grpc/h2grpc/interop/conformance/gen")
sources=()
for f in "${files[@]}"; do
	rel="connectrpc/conformance/v1/$f.proto"
	go_opts+=(--go_opt="M$rel=$pkg")
	grpc_opts+=(--go-grpc_opt="M$rel=$pkg")
	sources+=("$protodir/$rel")
done

rm -f "$out"/conformancev1/*.pb.go
mkdir -p "$out/conformancev1"
protoc -I "$protodir" \
	--plugin=protoc-gen-go="$plugins/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$plugins/protoc-gen-go-grpc" \
	--go_out="$out" "${go_opts[@]}" \
	--go-grpc_out="$out" "${grpc_opts[@]}" \
	"${sources[@]}"
