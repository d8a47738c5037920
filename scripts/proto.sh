#!/usr/bin/env bash
# Regenerates core/protocol/rpc/gen/ from the .proto files with protoc (Debian protobuf-compiler) and ts-proto.
set -euo pipefail
cd "$(dirname "$0")/../core/protocol/rpc"
if ! command -v protoc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null;
  else echo "protoc is missing: apt-get install protobuf-compiler" >&2; exit 1; fi
fi
rm -rf gen && mkdir gen
protoc --plugin=protoc-gen-ts_proto=../../../node_modules/.bin/protoc-gen-ts_proto --ts_proto_out=gen \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,useOptionals=messages,oneof=unions-value,forceLong=number,env=node,useExactTypes=false,outputTypeRegistry=false \
  -I . common.proto scheduler.proto dfdaemon.proto scheduler-persistent-cache.proto dfdaemon-persistent-cache.proto
